"""Signing in to the console with the management key or an API key, and signing out.

The key typed in is checked like a bearer key (the management key first, then the API keys) and
then forgotten: the session keeps only the digest of it, to end when the key does. A failed
attempt counts against the client's address (``throttle.py``), in every worker's view.
"""

from __future__ import annotations

import hmac

from aiohttp import web

from unigate.accounts import keys
from unigate.accounts.console_views import Session
from unigate.api.context import STORE
from unigate.console.render import page, posted_form, see_other
from unigate.console.sessions import (
    CONSOLE_VIEWS,
    LOGIN_COOKIE,
    SESSION_COOKIE,
    SESSION_TTL_S,
    check_origin,
    clear_session_cookie,
    current_session,
    new_login_token,
    set_session_cookie,
)
from unigate.console.throttle import THROTTLE

__all__ = ["login_form", "login_submit", "logout"]

_LOGIN_TTL_S = 3600


def _next(raw: object) -> str:
    """Where to go after signing in: a console path, never another site."""
    if isinstance(raw, str) and raw.startswith("/console/") and not raw.startswith("//") and "\\" not in raw:
        return raw
    return "/console/playground"


def _form(request: web.Request, *, error: str | None = None, status: int = 200, next_path: str) -> web.Response:
    token = new_login_token()
    response = page(request, "login.html", session=None, status=status, error=error, login_token=token, next=next_path)
    response.set_cookie(
        LOGIN_COOKIE, token, max_age=_LOGIN_TTL_S, path="/console/login", httponly=True, samesite="Strict"
    )
    return response


async def login_form(request: web.Request) -> web.StreamResponse:
    """``GET /console/login``."""
    next_path = _next(request.query.get("next"))
    if await current_session(request) is not None:
        raise web.HTTPSeeOther(location=next_path)
    return _form(request, next_path=next_path)


async def login_submit(request: web.Request) -> web.StreamResponse:
    """``POST /console/login``: a session for a valid key."""
    form = await request.post()
    next_path = _next(form.get("next"))
    given, expected = form.get("login_token"), request.cookies.get(LOGIN_COOKIE)
    if not (
        check_origin(request)
        and isinstance(given, str)
        and expected
        and hmac.compare_digest(given.encode(), expected.encode())
    ):
        return _form(request, error="The sign-in form expired. Try again.", status=403, next_path=next_path)
    address = request.remote or "unknown"
    throttle = request.config_dict[THROTTLE]
    wait = await throttle.retry_after(address)
    if wait is not None:
        response = _form(
            request,
            error=f"Too many failed sign-ins. Try again in {int(wait // 60) + 1} minutes.",
            status=429,
            next_path=next_path,
        )
        response.headers["Retry-After"] = str(int(wait))
        return response
    key = form.get("key")
    key = key.strip() if isinstance(key, str) else ""
    session = await _session_for(request, key) if key else None
    if session is None:
        await throttle.failed(address)
        return _form(request, error="That key is not valid, or it is disabled.", status=401, next_path=next_path)
    await throttle.succeeded(address)
    token, _ = session
    response = see_other(next_path)
    set_session_cookie(request, response, token)
    response.del_cookie(LOGIN_COOKIE, path="/console/login")
    return response


async def _session_for(request: web.Request, key: str) -> tuple[str, Session] | None:
    store, db = request.config_dict[STORE], request.config_dict[CONSOLE_VIEWS]
    credential = keys.digest(key)
    if await store.check_management_key(key):
        await db.purge_sessions()
        return await db.create_session(kind="management", key_prefix=None, credential=credential, ttl_s=SESSION_TTL_S)
    api_key = await store.authenticate(key)
    if api_key is None:
        return None
    await db.purge_sessions()
    return await db.create_session(kind="key", key_prefix=api_key.prefix, credential=credential, ttl_s=SESSION_TTL_S)


async def logout(request: web.Request) -> web.StreamResponse:
    """``POST /console/logout``: the session is deleted, not just forgotten by the browser."""
    await posted_form(request)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await request.config_dict[CONSOLE_VIEWS].delete_session(token)
    response = see_other("/console/login")
    clear_session_cookie(response)
    return response
