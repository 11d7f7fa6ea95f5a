"""The Keys page: with the management key, create keys (the key is shown once), enable and
disable them, set their spending and rate limits, delete them, and add credits to accounts; with
an API key, the settings of that key.

Changes go to the store as the key endpoints make them (``api/admin/keys.py``) and are announced
to the other gateway processes the same way, so a key disabled here stops at once everywhere.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from unigate.accounts.console_views import Session
from unigate.accounts.scopes import SCOPES
from unigate.accounts.spending import RETENTIONS, SpendingLimit, as_retention, credits_of_usd
from unigate.accounts.store import UNSET, ApiKey, KeyChanges, KeySettings
from unigate.api.context import KEYS, STORE
from unigate.api.requests import MAX_COUNT, MAX_CREDITS, MAX_ID
from unigate.catalog.builtin import LOCAL_CHAT_MODEL_ID
from unigate.catalog.spec import CREDITS_PER_USD
from unigate.console.models import catalog_rows
from unigate.console.render import page, posted_form, see_other, signed_in

__all__ = ["add_credits", "create_key", "delete_key", "keys_page", "set_key_limits", "set_key_state"]


class FormError(ValueError):
    """A field of a form that cannot be used as it is; the message says why."""


MAX_USD = MAX_CREDITS / CREDITS_PER_USD
"""The largest amount in USD a form may give, as the key endpoints bound credit amounts."""


def _number(form: MultiDictProxy[str], name: str, label: str, *, most: float, integer: bool = False) -> float | None:
    """The field as a number from 0 to ``most``: the bounds keep it inside the ledger's 64-bit
    integers (an infinite or huge amount must be a form error, not an overflow in the store)."""
    raw = form.get(name, "").strip().replace(",", "")
    if not raw:
        return None
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        raise FormError(f"{label} must be a{'' if integer else ' decimal'} number.") from None
    if value < 0 or value != value:
        raise FormError(f"{label} cannot be negative.")
    if value > most:
        raise FormError(f"{label} can be at most {most:,.0f}.")
    return value


def _rate(form: MultiDictProxy[str], name: str, label: str) -> int | None:
    value = _number(form, name, label, integer=True, most=MAX_COUNT)
    if value == 0:
        raise FormError(f"{label} must be at least 1, or empty for the gateway's default.")
    return None if value is None else int(value)


def _scopes(form: MultiDictProxy[str]) -> tuple[str, ...]:
    """The ticked scopes; none ticked: every API (``accounts/scopes.py``)."""
    ticked = form.getall("scope", [])
    unknown = [s for s in ticked if s not in SCOPES]
    if unknown:
        raise FormError(f"Unknown scope {unknown[0]!r}.")
    return tuple(dict.fromkeys(ticked))


def _limit(form: MultiDictProxy[str]) -> SpendingLimit | None:
    threshold = _number(form, "limit_usd", "The spending limit", most=MAX_USD)
    if threshold is None:
        return None
    retention = form.get("limit_period", "no_reset")
    if retention not in RETENTIONS:
        raise FormError("Choose the spending limit's period: day, week, month or no reset.")
    return SpendingLimit(as_retention(retention), credits_of_usd(threshold))


def _management(session: Session) -> None:
    if session.kind != "management":
        raise web.HTTPForbidden(text="Creating and changing keys needs the management key: sign in with it.")


async def _listing(request: web.Request, session: Session) -> dict[str, Any]:
    store = request.config_dict[STORE]
    if session.kind == "management":
        found = await store.list_keys()
    else:
        assert session.key_prefix is not None
        own = await store.get_key(session.key_prefix)
        found = [own] if own is not None else []
    usage = await store.monthly_usage([k.id for k in found])
    balances = {a: await store.balance(a) for a in dict.fromkeys(k.account_id for k in found)}
    return {
        "keys": found,
        "monthly_usage": usage,
        "balances": balances,
        "retentions": RETENTIONS,
        "scopes": SCOPES,
    }


async def keys_page(request: web.Request) -> web.StreamResponse:
    """``GET /console/keys``."""
    session = await signed_in(request)
    return page(request, "keys.html", session=session, error=None, **await _listing(request, session))


async def _form_error(request: web.Request, session: Session, err: FormError) -> web.Response:
    listing = await _listing(request, session)
    return page(request, "keys.html", session=session, status=400, error=str(err), **listing)


async def create_key(request: web.Request) -> web.StreamResponse:
    """``POST /console/keys``: a new key, shown once on the page that answers."""
    session, form = await posted_form(request)
    _management(session)
    store = request.config_dict[STORE]
    try:
        name = form.get("name", "").strip()[:256] or None
        credits_usd = _number(form, "credits_usd", "Credits", most=MAX_USD) or 0.0
        account = _number(form, "account_id", "The account", integer=True, most=MAX_ID)
        settings = KeySettings(
            scopes=_scopes(form),
            limit=_limit(form),
            rpm=_rate(form, "rpm", "Requests per minute"),
            tpm=_rate(form, "tpm", "Tokens per minute"),
        )
        credits = credits_of_usd(credits_usd)
        if account is None:
            account_id = await store.create_account(name=name, credits=credits)
        else:
            account_id = int(account)
            try:
                await store.balance(account_id)
            except LookupError:
                raise FormError(f"There is no account {account_id}.") from None
            if credits:
                await store.add_credits(account_id, credits)
    except FormError as err:
        return await _form_error(request, session, err)
    key, plaintext = await store.create_key(account_id=account_id, name=name, settings=settings)
    chat_models = [r.spec.id for r in catalog_rows(request) if r.available and r.spec.type == "chat-completion"]
    example = LOCAL_CHAT_MODEL_ID if LOCAL_CHAT_MODEL_ID in chat_models else next(iter(chat_models), "MODEL")
    origin = f"{request.headers.get('X-Forwarded-Proto', request.scheme)}://{request.host}"
    return page(
        request,
        "key_created.html",
        session=session,
        key=key,
        plaintext=plaintext,
        origin=origin,
        example_model=example,
    )


async def _key(request: web.Request) -> ApiKey:
    prefix = request.match_info["prefix"]
    key = await request.config_dict[STORE].get_key(prefix)
    if key is None:
        raise web.HTTPNotFound(text=f"There is no API key with the prefix {prefix!r}.")
    return key


async def set_key_state(request: web.Request) -> web.StreamResponse:
    """``POST /console/keys/{prefix}/state``: ``disabled=1`` or ``0``."""
    session, form = await posted_form(request)
    _management(session)
    key = await _key(request)
    await request.config_dict[STORE].update_key(key.prefix, KeyChanges(disabled=form.get("disabled") == "1"))
    await request.config_dict[KEYS].changed(key.prefix)
    return see_other("/console/keys")


async def set_key_limits(request: web.Request) -> web.StreamResponse:
    """``POST /console/keys/{prefix}/limits``: name, scopes, the spending limit and the rate
    limits; an empty field removes that limit, no scope ticked allows every API."""
    session, form = await posted_form(request)
    _management(session)
    key = await _key(request)
    try:
        name = (form.get("name", "").strip()[:256] or None) if "name" in form else UNSET
        changes = KeyChanges(
            name=name,
            scopes=_scopes(form) if "scopes_shown" in form else UNSET,
            limit=_limit(form),
            rpm=_rate(form, "rpm", "Requests per minute"),
            tpm=_rate(form, "tpm", "Tokens per minute"),
        )
    except FormError as err:
        return await _form_error(request, session, err)
    await request.config_dict[STORE].update_key(key.prefix, changes)
    await request.config_dict[KEYS].changed(key.prefix)
    return see_other("/console/keys")


async def delete_key(request: web.Request) -> web.StreamResponse:
    """``POST /console/keys/{prefix}/delete``: for good; its ledger rows stay."""
    session, _ = await posted_form(request)
    _management(session)
    key = await _key(request)
    await request.config_dict[STORE].delete_key(key.prefix)
    await request.config_dict[KEYS].changed(key.prefix)
    return see_other("/console/keys")


async def add_credits(request: web.Request) -> web.StreamResponse:
    """``POST /console/accounts/{account_id}/credits``: ``credits_usd`` more (or, with
    ``remove=1``, fewer) on the account."""
    session, form = await posted_form(request)
    _management(session)
    store = request.config_dict[STORE]
    raw = request.match_info["account_id"]
    try:
        usd = _number(form, "credits_usd", "Credits", most=MAX_USD)
        if not usd:
            raise FormError("Give the amount of credits to add, in USD.")
        if int(raw) > MAX_ID:  # no row has such an id (the store's are 64-bit)
            raise LookupError(raw)
        credits = credits_of_usd(usd) * (-1 if form.get("remove") == "1" else 1)
        await store.add_credits(int(raw), credits)
    except LookupError:
        return await _form_error(request, session, FormError(f"There is no account {raw}."))
    except FormError as err:
        return await _form_error(request, session, err)
    except ValueError:
        return await _form_error(request, session, FormError("The balance cannot fall below zero."))
    return see_other("/console/keys")
