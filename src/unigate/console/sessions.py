"""Console sessions over HTTP: the cookie and the CSRF checks.

- The session cookie (``unigate_session``) holds a random token; the database keeps only its
  SHA-256 (``Store.console``). It is ``HttpOnly`` (no script reads it), ``SameSite=Strict`` (no
  other site's page sends it), ``Path=/console``, and ``Secure`` over HTTPS. A session lasts
  ``SESSION_TTL_S`` at most, and ends at once when its key stops being valid.
- Every POST of a session carries the session's CSRF token, in the form field ``csrf_token`` or
  the ``X-CSRF-Token`` header, compared in constant time. A POST whose ``Origin`` names another
  host is refused before that.
- The sign-in form, which has no session yet, uses a double-submit token: a random value in a
  short-lived ``SameSite=Strict`` cookie and the same value in the form.
- Failed sign-ins are counted per client address, in Redis when there is one (``throttle.py``).
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from aiohttp import web

from unigate.accounts.console_views import ConsoleViews, Session

__all__ = [
    "CONSOLE_VIEWS",
    "LOGIN_COOKIE",
    "SESSION",
    "SESSION_COOKIE",
    "SESSION_TTL_S",
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
