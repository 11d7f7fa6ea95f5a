"""Where the gateway may send a request whose URL a client chose (an image to fetch, a webhook to
call): whatever sends one from inside our network can be aimed at that network (SSRF), so every
such request obeys these rules, and goes through ``GuardedClient``.

* **Schemes**: ``http`` and ``https`` only. No user info (``user:pass@``) in the URL.
* **Hosts**: a DNS name, a canonical dotted-quad IPv4 or a bracketed IPv6 literal. Numeric forms
  that resolvers turn into addresses (``2130706433``, ``0x7f.1``, ``017700000001``, ``127.1``) are
  refused, as are ``localhost``, ``*.localhost``, ``*.internal`` (``metadata.google.internal``),
  ``*.local`` and the bare ``metadata`` / ``instance-data`` names of cloud metadata services.
* **Addresses**: a literal, or *every* address a name resolves to, must be public. Refused
  (``blocked_class``): unspecified (0.0.0.0/8, ::), loopback (127/8, ::1), private (10/8,
  172.16/12, 192.168/16, fc00::/7), shared/CGNAT (100.64/10), link-local (169.254/16 with the
  169.254.169.254 metadata service, fe80::/10), multicast, reserved and documentation ranges,
  site-local fec0::/10, and IPv6 forms that carry an IPv4 address (IPv4-mapped ::ffff:0:0/96,
  NAT64 64:ff9b::/96, 6to4 2002::/16, Teredo) when that address is refused.
* **Pinning**: names are resolved inside the connector (``GuardedResolver``), which vets the
  addresses and hands the connector only those, so the connection goes to the vetted address;
  a DNS answer that changes between a check and the connect (rebinding) cannot slip through.
* No cookies are kept, no redirect is followed by the transport (``fetch.py`` follows them by
  hand, each hop vetted; webhooks not at all) and none of the client's headers are sent. No
  proxy is used unless the operator asks for one (``GuardedClient``'s docstring says why).

Refusals and failures raise ``FetchError`` with a ``reason``; each caller turns it into its own
400 (``download.py``, ``webhooks.py``) or its own answer.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from unigate.providers.media_types import IMAGE_AND_PDF_TYPES
from unigate.providers.transport.base import USER_AGENT, Request, Response
from unigate.providers.transport.proxy import Proxies, ProxyTransport

__all__ = [
    "MEDIA_TYPES",
    "FetchError",
    "FetchPolicy",
    "FetchReason",
    "GuardedClient",
    "GuardedResolver",
    "blocked_class",
    "guarded_transport",
    "vet_url",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
FetchReason = Literal["blocked", "too_large", "timeout", "unsupported_type", "failed"]

MEDIA_TYPES = IMAGE_AND_PDF_TYPES
BLOCKED_NAMES = frozenset({"localhost", "metadata", "instance-data"})
BLOCKED_SUFFIXES = (".localhost", ".internal", ".local")
REDIRECTS = frozenset({301, 302, 303, 307, 308})

_V4 = ipaddress.IPv4Network
_V6 = ipaddress.IPv6Network
_CLASSES: tuple[tuple[str, tuple[IPNetwork, ...]], ...] = (
    ("unspecified", (_V4("0.0.0.0/8"), _V6("::/128"))),
    ("loopback", (_V4("127.0.0.0/8"), _V6("::1/128"))),
    ("private", (_V4("10.0.0.0/8"), _V4("172.16.0.0/12"), _V4("192.168.0.0/16"), _V6("fc00::/7"))),
    ("shared", (_V4("100.64.0.0/10"),)),
    ("link-local", (_V4("169.254.0.0/16"), _V6("fe80::/10"))),
    ("multicast", (_V4("224.0.0.0/4"), _V6("ff00::/8"))),
    ("site-local", (_V6("fec0::/10"),)),
    ("broadcast", (_V4("255.255.255.255/32"),)),
)
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$", re.IGNORECASE)
_NAME = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)(\.(?!-)[a-z0-9_-]{1,63}(?<!-))*$", re.IGNORECASE)


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class FetchError(Exception):
    """A client-supplied URL that could not or may not be fetched."""

    def __init__(self, reason: FetchReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def _embedded_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 form carries (mapped, NAT64, 6to4, Teredo), if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _V6("64:ff9b::/96"):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    return None


def blocked_class(ip: IPAddress) -> str | None:
    """Why ``ip`` may not be fetched from (``"loopback"``, ``"private"``...), ``None`` if public."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:
            return "link-local"
        embedded = _embedded_v4(ip)
        if embedded is not None:
            inner = blocked_class(embedded)
            return f"{inner} (IPv4 in IPv6)" if inner else None
    for name, networks in _CLASSES:
        if any(ip.version == n.version and ip in n for n in networks):
            return name
    if ip.is_reserved or ip.is_private or not ip.is_global:
        return "reserved"  # documentation, benchmarking, protocol assignments, 240/4...
    return None


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    max_bytes: int = 20 * 1024 * 1024
    """Gemini takes at most 20 MB of inline data per request."""
    timeout_s: float = 15.0
    """For the whole fetch: connecting, every redirect, and reading the body. A stream
    (``Fetcher.stream``) has this long for everything up to its first bytes (the media type is
    sniffed from them), then ``idle_s`` and ``stream_timeout_s`` for its body."""
    idle_s: float = 30.0
    """A stream's longest wait for its next bytes: a server that goes quiet is given up on."""
    stream_timeout_s: float = 600.0
    """A stream's whole life, body included: generous (100 MB at about 170 KB/s), since its
    pieces are passed on as they come rather than held, but bounded, since a server that drips a
    byte just inside ``idle_s`` would otherwise hold a connection for ever."""
    max_redirects: int = 3
    schemes: frozenset[str] = frozenset({"http", "https"})
    media_types: frozenset[str] = MEDIA_TYPES
    exempt: tuple[IPNetwork, ...] = ()
    """Networks allowed although a rule above refuses them. For tests (an emulator on
    127.0.0.1); not settable from the configuration."""

    def vet_address(self, ip: IPAddress, host: str) -> None:
        reason = blocked_class(ip)
        if reason is not None and not any(ip.version == n.version and ip in n for n in self.exempt):
            shown = host if host == str(ip) else f"{host} ({ip})"
            raise FetchError("blocked", f"the URL's host {shown} is a {reason} address, which is refused")


def vet_url(url: str | URL, policy: FetchPolicy) -> URL:
    """``url`` parsed, if its scheme, form and (literal) address may be fetched; else ``FetchError``.

    Names are not resolved here: ``GuardedResolver`` vets what they resolve to at connect time.
    """
    try:
        parsed = url if isinstance(url, URL) else URL(url)
    except ValueError as exc:
        raise FetchError("blocked", "the URL is not valid") from exc
    if parsed.scheme.lower() not in policy.schemes:
        raise FetchError("blocked", f"only {' and '.join(sorted(policy.schemes))} URLs are accepted")
    if parsed.user is not None or parsed.password is not None:
        raise FetchError("blocked", "URLs with credentials are refused")
    host = (parsed.raw_host or "").lower()
    if not host:
        raise FetchError("blocked", "the URL has no host")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    if ip is not None:
        policy.vet_address(ip, host)
        return parsed
    name = host.rstrip(".")
    labels = name.split(".")
    if _NUMERIC_LABEL.match(labels[-1]) or not _NAME.match(name):
        raise FetchError("blocked", f"the URL's host {host!r} is not a canonical name or address")
    if name in BLOCKED_NAMES or name.endswith(BLOCKED_SUFFIXES):
        raise FetchError("blocked", f"the URL's host {name} is an internal name, which is refused")
    return parsed


class GuardedResolver(AbstractResolver):
    """Resolves with ``inner`` and returns the addresses only if every one of them is public, so
    the connector can only connect to vetted addresses. ``inner`` defaults to ``getaddrinfo`` on
    a thread (aiohttp's ``ThreadedResolver``); tests inject one that maps names to chosen IPs.
    ``trusted`` names (the operator's own proxy, often in a private network) resolve unvetted."""

    def __init__(
        self, policy: FetchPolicy, inner: AbstractResolver | None = None, *, trusted: frozenset[str] = frozenset()
    ) -> None:
        self.policy = policy
        self._given = inner
        self._made: AbstractResolver | None = None
        """``ThreadedResolver`` binds the running loop: made on the first lookup, dropped on close."""
        self.trusted = trusted

    @property
    def inner(self) -> AbstractResolver:
        if self._given is not None:
            return self._given
        if self._made is None:
            self._made = aiohttp.ThreadedResolver()
        return self._made

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if host in self.trusted:
            return await self.inner.resolve(host, port, family)
        vet_url(URL.build(scheme="http", host=host), self.policy)  # the name rules, again
        results = await self.inner.resolve(host, port, family)
        if not results:
            raise FetchError("failed", f"the URL's host {host} did not resolve")
        for result in results:
            try:
                ip = ipaddress.ip_address(result["host"])
            except ValueError as exc:
                raise FetchError("blocked", f"the URL's host {host} resolved to an unusable address") from exc
            self.policy.vet_address(ip, host)
        return results

    async def close(self) -> None:
        made, self._made = self._made, None
        if made is not None:
            await made.close()


def guarded_transport(
    policy: FetchPolicy,
    resolver: GuardedResolver,
    proxies: Proxies | None = None,
    *,
    user_agent: str = USER_AGENT,
    headers: Mapping[str, str] | None = None,
) -> ProxyTransport:
    """The guarded transport: every direct connection resolved (and so pinned) by ``resolver``,
    no cookie jar, no proxy but ``proxies``, no redirect followed, and a connection of its own for
    each request (``force_close``), so that no vetted connection serves another host. ``headers``
    are sent with every request; by default an ``Accept`` of the policy's media types."""
    accept = {"Accept": ", ".join(sorted(policy.media_types))}
    return ProxyTransport(
        proxies or Proxies(),
        resolver=resolver,
        force_close=True,
        user_agent=user_agent,
        headers=accept if headers is None else headers,
    )


class GuardedClient:
    """Sends requests to client-chosen URLs under every rule of the module docstring: the policy,
    its vetting resolver and its transport, started and closed with its owner (the fetcher, the
    webhooks). It is given the parts (``resolver``, ``proxies``) and builds the transport at
    construction, never in a method; no other transport can be handed in, since the pinning is
    what makes it safe. It follows no redirect: a caller that does vets each hop with ``vet``.

    **Behind an egress proxy.** A proxy resolves the names it is given itself, after our check and
    out of our sight, so the vetted address cannot be pinned through it: a name that resolves to a
    public address for us and to a private one for the proxy (rebinding, split DNS, or simply the
    proxy's own network, which our check cannot see) would reach that private address. So by
    default the client ignores the proxy variables and connects directly, pinned, as the
    gateway's address rules require; where direct egress is blocked, requests fail. An operator
    who sets ``proxies`` (``UNIGATE_FETCH_VIA_PROXY=1``; ``transport/factory.py``'s
    ``fetch_proxies``) hands that guarantee to the proxy, which must itself refuse private
    destinations: every rule on the URL still holds, a name that resolves here must still resolve
    only to public addresses (a name that does not resolve here is left to the proxy), and
    ``NO_PROXY`` hosts are still reached directly and pinned.
    """

    def __init__(
        self,
        policy: FetchPolicy,
        *,
        resolver: AbstractResolver | None = None,
        proxies: Proxies | None = None,
        user_agent: str = USER_AGENT,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.policy = policy
        self.proxies = proxies
        self._guard = GuardedResolver(policy, resolver, trusted=proxies.hosts if proxies else frozenset())
        self.transport = guarded_transport(policy, self._guard, proxies, user_agent=user_agent, headers=headers)
        self.started = False

    async def start(self) -> None:
        await self.transport.start()
        self.started = True

    async def close(self) -> None:
        self.started = False
        await self.transport.close()
        await self._guard.close()

    def vet(self, url: str | URL) -> URL:
        """``url`` parsed, if the checks that need no network pass (``vet_url``)."""
        return vet_url(url, self.policy)

    async def send(self, request: Request) -> Response:
        """One request to a URL already vetted, to the vetted address (``FetchError`` for a name
        that resolves to a refused one); the transport's contract otherwise (``transport/base.py``)."""
        if not self.started:
            raise FetchError("failed", "the server sent a request before it started")
        await self._vet_proxied(URL(request.url))
        return await self.transport.send(request)

    async def _vet_proxied(self, url: URL) -> None:
        """Through a proxy, what the name resolves to here (see the class docstring)."""
        host = url.raw_host or ""
        if self.proxies is None or self.proxies.for_url(url) is None or _is_address(host):
            return
        try:
            await self._guard.resolve(host, url.port or 0)
        except OSError:
            return  # unknown here: the proxy's to resolve and to judge
