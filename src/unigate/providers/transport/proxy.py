"""An aiohttp transport, for operators whose gateway reaches the internet only through an egress
proxy (``HTTPS_PROXY``, common in companies); ``factory.py`` chooses it when one is set.

``Proxies`` reads the variables every HTTP tool reads (curl, pip, requests, httpx), in either
case, the lower-case one winning: ``HTTPS_PROXY`` for https URLs, ``HTTP_PROXY`` for http ones,
``ALL_PROXY`` for either when its own is unset, and ``NO_PROXY``, a comma-separated list of hosts
reached directly: ``*`` (every host), a name (``example.com`` also covers ``api.example.com``; a
leading ``.`` or ``*.`` is ignored), an IP address, a network (``10.0.0.0/8``), each optionally
with ``:port``. An http URL goes to the proxy as an absolute-URI request; an https one through a
``CONNECT`` tunnel, so TLS runs end to end with the upstream and the proxy never sees the key.
Credentials in the proxy's URL (``http://user:pass@proxy:3128``) are sent as
``Proxy-Authorization``. SOCKS proxies are refused at start: aiohttp cannot use them.

The transport keeps the contract of ``base.py``; aiohttp's failures become ``HttpFailure`` and
``TimeoutError``. A failure raised by a custom resolver (the SSRF-safe fetcher's refusals,
``providers/fetch.py``) passes through untouched. No cookies are kept and no redirect is followed;
a compressed answer is decoded (aiohttp asks for gzip and deflate).
"""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

import aiohttp
from aiohttp.abc import AbstractResolver
from yarl import URL

from unigate.providers.transport.base import MAX_BODY_BYTES, USER_AGENT, HttpFailure, Request

__all__ = ["Proxies", "ProxyResponse", "ProxyTransport"]


def _proxy_url(value: str | None, variable: str) -> str | None:
    if not value:
        return None
    url = URL(value if "://" in value else f"http://{value}")  # curl's reading of a bare host:port
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"{variable}={value!r}: only http:// and https:// proxies can be used")
    return str(url)


def _bypassed(entry: str, host: str, port: int | None) -> bool:
    """Whether the ``NO_PROXY`` entry ``entry`` (lower-cased, stripped) covers ``host:port``."""
    if entry == "*":
        return True
    name, want = entry, None
    if entry.startswith("["):  # [::1]:8080
        name, _, rest = entry[1:].partition("]")
        want = rest[1:] if rest.startswith(":") else None
    elif entry.count(":") == 1:  # host:port (more colons: a bare IPv6 address)
        name, want = entry.split(":")
    if want is not None and (not want.isdigit() or int(want) != port):
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if "/" in name or address is not None:
        try:
            network = ipaddress.ip_network(name, strict=False)
        except ValueError:
            return False
        return address is not None and address.version == network.version and address in network
    name = name.removeprefix("*").removeprefix(".")
    return bool(name) and (host == name or host.endswith("." + name))


@dataclass(frozen=True, slots=True)
class Proxies:
    """Which proxy, if any, each URL goes through (the module docstring's rules)."""

    http: str | None = None
    https: str | None = None
    no_proxy: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Proxies:
        def var(name: str) -> tuple[str | None, str]:
            for spelled in (name.lower(), name):
                value = env.get(spelled, "").strip()
                if value:
                    return value, spelled
            return None, name

        every, every_name = var("ALL_PROXY")
        http, http_name = var("HTTP_PROXY")
        https, https_name = var("HTTPS_PROXY")
        skip, _ = var("NO_PROXY")
        return cls(
            http=_proxy_url(http, http_name) if http else _proxy_url(every, every_name),
            https=_proxy_url(https, https_name) if https else _proxy_url(every, every_name),
            no_proxy=tuple(e.strip().lower() for e in (skip or "").split(",") if e.strip()),
        )

    @property
    def hosts(self) -> frozenset[str]:
        """The proxies' own host names (the fetcher lets its resolver reach them)."""
        return frozenset(URL(p).host or "" for p in (self.http, self.https) if p)

    def for_url(self, url: URL) -> str | None:
        """The proxy for ``url``, ``None`` to connect directly."""
        proxy = self.https if url.scheme == "https" else self.http if url.scheme == "http" else None
        if proxy is None:
            return None
        host = (url.host or "").lower().rstrip(".")
        if any(_bypassed(entry, host, url.port) for entry in self.no_proxy):
            return None
        return proxy


class ProxyResponse:
    """An aiohttp answer with the contract of ``base.Response``."""

    __slots__ = ("_done", "_resp", "headers", "status")

    def __init__(self, resp: aiohttp.ClientResponse) -> None:
        self._resp = resp
        self._done = False
        self.status = resp.status
        self.headers = {name.lower(): value for name, value in resp.headers.items()}
        """Lower-cased names."""

    async def read(self) -> bytes:
        body = bytearray()
        async for piece in self.chunks():
            body += piece
            if len(body) > MAX_BODY_BYTES:
                raise HttpFailure(f"the answer is larger than {MAX_BODY_BYTES} bytes", mid_body=True)
        return bytes(body)

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            async for piece in self._resp.content.iter_any():
                yield piece
        except TimeoutError as exc:  # aiohttp's read timeouts are TimeoutErrors and ClientErrors both
            raise TimeoutError() from exc
        except aiohttp.ClientError as exc:
            raise HttpFailure(f"the connection broke off mid-answer ({exc})", mid_body=True) from exc
        self._done = True

    def close(self) -> None:
        if self._done:
            self._resp.release()  # read to its end: the connection may serve the next request
        else:
            self._resp.close()  # dropped: the upstream sees the client leave


class ProxyTransport:
    """``base.Transport`` over one aiohttp session, routing each request by ``proxies``.

    ``resolver`` replaces the DNS lookups of direct connections (the fetcher's vetting one);
    ``force_close`` gives every request a connection of its own. With empty ``proxies`` every
    request goes directly.
    """

    def __init__(
        self,
        proxies: Proxies,
        *,
        resolver: AbstractResolver | None = None,
        ssl_context: ssl.SSLContext | None = None,
        force_close: bool = False,
        user_agent: str = USER_AGENT,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.proxies = proxies
        self._resolver = resolver
        self._ssl: ssl.SSLContext | bool = ssl_context if ssl_context is not None else True
        """The system's trust store unless given (tests trust their own certificate)."""
        self._force_close = force_close
        self._headers = {"User-Agent": user_agent, **(headers or {})}
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=0, resolver=self._resolver, force_close=self._force_close, ssl=self._ssl
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                cookie_jar=aiohttp.DummyCookieJar(),
                trust_env=False,  # the proxies are ours to choose, per request
                headers=self._headers,
            )

    async def send(self, request: Request) -> ProxyResponse:
        session = self._session
        if session is None:
            raise HttpFailure("the transport is not started")
        try:
            url = URL(request.url)
        except ValueError as exc:
            raise HttpFailure(f"not an http(s) URL: {request.url!r}") from exc
        if url.scheme not in ("http", "https") or not url.host:
            raise HttpFailure(f"not an http(s) URL: {request.url!r}")
        proxy = self.proxies.for_url(url)
        timeout = aiohttp.ClientTimeout(total=request.total_s, connect=request.connect_s, sock_read=request.read_s)
        try:
            resp = await session.request(
                request.method,
                url,
                headers=request.headers,
                data=request.body or None,
                proxy=proxy,
                timeout=timeout,
                allow_redirects=False,
            )
        except TimeoutError as exc:
            raise TimeoutError() from exc
        except aiohttp.ClientError as exc:
            via = f" through the proxy {URL(proxy).origin()}" if proxy else ""
            raise HttpFailure(f"could not connect to {url.host}:{url.port}{via} ({type(exc).__name__}: {exc})") from exc
        return ProxyResponse(resp)

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()
