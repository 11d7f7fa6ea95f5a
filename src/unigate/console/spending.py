"""Who a console API call (``/console/api/...``) is, and which API key it spends from.

The browser never holds a key: the session cookie and the page's CSRF token authenticate the
call, and the console spends from the session's API key or, in a management session, from the
key chosen in the page (the management key itself is no API key and spends nothing).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from unigate.accounts.console_views import Session
from unigate.accounts.store import ApiKey
from unigate.api.context import STORE
from unigate.console.sessions import check_csrf, current_session
from unigate.errors import AuthenticationError, InvalidRequest, PermissionDenied

__all__ = ["api_session", "spendable_keys", "spending_key"]


async def api_session(request: web.Request) -> Session:
    """The session of a console API call, its ``X-CSRF-Token`` header checked."""
    session = await current_session(request)
    if session is None:
        raise AuthenticationError("Your console session has ended: sign in again.", code="session_expired")
    if not check_csrf(request, session, None):
        raise PermissionDenied("The request did not come from a console page (CSRF check).", code="csrf_failed")
    return session


async def spending_key(request: web.Request, session: Session, chosen: Any) -> ApiKey:
    """The session's own key, or in a management session the enabled key whose prefix is ``chosen``."""
    store = request.config_dict[STORE]
    if session.kind == "key":
        assert session.key_prefix is not None
        key = await store.get_key(session.key_prefix)
        if key is None or key.disabled:
            raise AuthenticationError("This session's key is disabled or deleted: sign in again.")
        return key
    if not isinstance(chosen, str) or not chosen:
        raise InvalidRequest("Choose the API key to spend from.", param="key")
    key = await store.get_key(chosen)
    if key is None or key.disabled:
        raise InvalidRequest(f"There is no enabled API key with the prefix {chosen!r}.", param="key")
    return key


async def spendable_keys(request: web.Request, session: Session) -> list[ApiKey]:
    """The keys a page offers a management session to spend from; none for a key's own session."""
    if session.kind != "management":
        return []
    return [k for k in await request.config_dict[STORE].list_keys() if not k.disabled]
