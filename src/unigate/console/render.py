"""Rendering console pages: the Jinja2 environment (autoescaped), the filters the templates use,
and the headers every page carries (no caching, no framing, a strict Content-Security-Policy:
scripts and styles only from ``/console/static``, audio only from the page's own ``blob:`` URLs,
nothing from another origin)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from urllib.parse import quote

import jinja2
from aiohttp import web
from multidict import MultiDict, MultiDictProxy

from unigate.accounts.console_views import Session
from unigate.catalog.spec import CREDITS_PER_USD
from unigate.console.sessions import check_csrf, current_session
from unigate.errors import GatewayError

__all__ = ["PAGE_HEADERS", "console_errors", "page", "posted_form", "see_other", "signed_in"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src blob:; "
        "connect-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def _credits(value: int) -> str:
    return f"{value:,}"


def _usd(credits: int) -> str:
    usd = credits / CREDITS_PER_USD
    if usd == 0:
        return "$0"
    if abs(usd) >= 1:
        return f"${usd:,.2f}"
    return f"${usd:.6f}".rstrip("0")


def _when(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S")


def _per_mtok(credits_per_mtok: int) -> str:
    """A price per million tokens in USD."""
    usd = credits_per_mtok / CREDITS_PER_USD
    return f"${usd:,.2f}" if usd >= 0.1 or usd == 0 else f"${usd:.4f}"


_env = jinja2.Environment(
    loader=jinja2.PackageLoader("unigate.console", "templates"),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,
)
_env.filters["credits"] = _credits
_env.filters["usd"] = _usd
_env.filters["when"] = _when
_env.filters["per_mtok"] = _per_mtok


def page(
    request: web.Request, template: str, *, session: Session | None, status: int = 200, **context: Any
) -> web.Response:
    """``template`` rendered with ``context`` and what every page needs: the session, its CSRF
    token, the current path. Not compressed: a page holds the CSRF token and may reflect a query
    (BREACH)."""
    html = _env.get_template(template).render(
        session=session, csrf=session.csrf if session else "", path=request.path, **context
    )
    return web.Response(text=html, status=status, content_type="text/html", headers=PAGE_HEADERS)


def see_other(location: str) -> web.Response:
    """A redirect to ``location`` after a POST (303: the browser follows with a GET)."""
    return web.Response(status=303, headers={"Location": location, "Cache-Control": "no-store"})


async def signed_in(request: web.Request) -> Session:
    """The request's session; without one, a redirect to the sign-in page that comes back here."""
    session = await current_session(request)
    if session is None:
        raise web.HTTPSeeOther(location=f"/console/login?next={quote(request.path_qs, safe='')}")
    return session


async def posted_form(request: web.Request) -> tuple[Session, MultiDictProxy[str]]:
    """A form POSTed by a page of this session, with its CSRF token checked."""
    session = await signed_in(request)
    form = await request.post()
    token = form.get("csrf_token")
    if not isinstance(token, str) or not check_csrf(request, session, token):
        raise web.HTTPForbidden(
            text="This form expired or came from another site. Go back, reload the page and try again.",
            headers=PAGE_HEADERS,
        )
    return session, MultiDictProxy(MultiDict((k, v) for k, v in form.items() if isinstance(v, str)))


@web.middleware
async def console_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Errors on console pages as an HTML page; the console's JSON endpoints (``/console/api/``)
    leave theirs to the gateway's JSON error handler."""
    if request.path.startswith("/console/api/"):
        return await handler(request)
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        message = exc.text if exc.text and not exc.text.startswith(f"{exc.status}:") else exc.reason
        return await _error_page(request, exc.status, message)
    except GatewayError as err:
        return await _error_page(request, err.status, err.message)


async def _error_page(request: web.Request, status: int, message: str) -> web.Response:
    session = await current_session(request)
    return page(request, "error.html", session=session, status=status, message=message)
