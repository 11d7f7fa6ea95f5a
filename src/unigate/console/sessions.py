"""Console sessions over HTTP: the cookie, the CSRF checks, and the sign-in throttle.

- The session cookie (``unigate_session``) holds a random token; the database keeps only its
  SHA-256 (``Store.console``). It is ``HttpOnly`` (no script reads it), ``SameSite=Strict`` (no
  other site's page sends it), ``Path=/console``, and ``Secure`` over HTTPS. A session lasts
  ``SESSION_TTL_S`` at most, and ends at once when its key stops being valid.
- Every POST of a session carries the session's CSRF token, in the form field ``csrf_token`` or
  the ``X-CSRF-Token`` header, compared in constant time. A POST whose ``Origin`` names another
  host is refused before that.
- The sign-in form, which has no session yet, uses a double-submit token: a random value in a
  short-lived ``SameSite=Strict`` cookie and the same value in the form.
- Failed sign-ins are counted per client address, in this process (``SignInThrottle``).
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections import OrderedDict, deque
from urllib.parse import urlsplit

from aiohttp import web

from unigate.accounts.console_views import ConsoleViews, Session

__all__ = [
    "CONSOLE_VIEWS",
    "LOGIN_COOKIE",
    "SESSION",
    "SESSION_COOKIE",
    "SESSION_TTL_S",
    "THROTTLE",
    "SignInThrottle",
    "check_csrf",
    "check_origin",
    "clear_session_cookie",
    "current_session",
    "new_login_token",
    "set_session_cookie",
]

SESSION_COOKIE = "unigate_session"
LOGIN_COOKIE = "unigate_login"
SESSION_TTL_S = 12 * 3600.0
"""A session ends 12 hours after sign-in at the latest."""

CONSOLE_VIEWS = web.AppKey("console_views", ConsoleViews)
SESSION = web.RequestKey[Session | None]("console_session")
"""The request's ``Session`` (``None``: none valid), once looked up."""


def _secure(request: web.Request) -> bool:
    return request.secure or request.headers.get("X-Forwarded-Proto", "").lower() == "https"


def set_session_cookie(request: web.Request, response: web.StreamResponse, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(SESSION_TTL_S),
        path="/console",
        httponly=True,
        samesite="Strict",
        secure=_secure(request),
    )


def clear_session_cookie(response: web.StreamResponse) -> None:
    response.del_cookie(SESSION_COOKIE, path="/console")


async def current_session(request: web.Request) -> Session | None:
    """The request's valid session, or ``None``."""
    if SESSION in request:
        return request[SESSION]
    token = request.cookies.get(SESSION_COOKIE)
    session = await request.app[CONSOLE_VIEWS].session(token) if token else None
    request[SESSION] = session
    return session


def check_origin(request: web.Request) -> bool:
    """``False`` when the browser says the request comes from a page of another host. Browsers
    send ``Origin`` on every POST; a client that sends none is not a browser on another site."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc == request.host


def check_csrf(request: web.Request, session: Session, given: str | None) -> bool:
    """Whether ``given`` (a form field, else the ``X-CSRF-Token`` header) is the session's token."""
    token = given if given is not None else request.headers.get("X-CSRF-Token", "")
    return check_origin(request) and hmac.compare_digest(token.encode(), session.csrf.encode())


def new_login_token() -> str:
    return secrets.token_urlsafe(24)


class SignInThrottle:
    """At most ``max_failures`` failed sign-ins per client address in ``window_s``; past that the
    address waits until its oldest failure leaves the window. In memory, per process: enough to
    make guessing keys (128 random bits) pointless, not a defence against a distributed attack.
    Behind a reverse proxy every client has the proxy's address, and they share one budget."""

    MAX_ADDRESSES = 10_000

    def __init__(self, *, max_failures: int = 10, window_s: float = 600.0) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, address: str, now: float) -> deque[float]:
        failures = self._failures.get(address)
        if failures is None:
            return deque()
        while failures and failures[0] <= now - self.window_s:
            failures.popleft()
        return failures

    def retry_after(self, address: str) -> float | None:
        """Seconds ``address`` must wait before trying again, or ``None`` if it may try now."""
        now = time.monotonic()
        failures = self._recent(address, now)
        if len(failures) < self.max_failures:
            return None
        return max(1.0, failures[0] + self.window_s - now)

    def failed(self, address: str) -> None:
        now = time.monotonic()
        failures = self._recent(address, now)
        failures.append(now)
        self._failures[address] = failures
        self._failures.move_to_end(address)
        while len(self._failures) > self.MAX_ADDRESSES:
            self._failures.popitem(last=False)

    def succeeded(self, address: str) -> None:
        self._failures.pop(address, None)


THROTTLE = web.AppKey("console_throttle", SignInThrottle)
