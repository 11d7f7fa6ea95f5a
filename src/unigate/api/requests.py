"""Reading and validating request bodies: JSON errors and schema violations become 400s that name
the offending ``param`` the way OpenAI does (``messages[0].content``)."""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from aiohttp import web
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from unigate.errors import InvalidRequest

__all__ = ["MAX_COUNT", "MAX_CREDITS", "MAX_ID", "param_path", "read_json", "validate"]

MAX_COUNT = 2**31 - 1
"""Upper bound of a count in a body (tokens, requests per minute): the gateway reserves a token
bound times a price and ``n``, and the product must fit the ledger's 64-bit integers, so a larger
one is a 400 naming the field."""

MAX_ID = 2**63 - 1
"""Upper bound of a row id in a body: the store's ids are 64-bit integers."""

MAX_CREDITS = 10**15
"""Upper bound of a credit amount in a body (500 million USD): balances stay far inside the
ledger's 64-bit integers however many such amounts are added."""

M = TypeVar("M", bound=BaseModel)


_PARSED: web.RequestKey[dict[str, Any]] = web.RequestKey("unigate.json", dict)
"""Where the parsed body is kept on the request: a route that looks at the body before handing
it on (``api/jobs/routes.py``) does not make the handler parse it again."""


async def read_json(request: web.Request) -> dict[str, Any]:
    parsed: dict[str, Any] | None = request.get(_PARSED)
    if parsed is not None:
        return parsed
    raw = await request.read()  # aiohttp raises HTTPRequestEntityTooLarge past client_max_size
    if not raw:
        raise InvalidRequest("The request body is empty; send a JSON object.")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"The request body is not valid JSON: {exc}.", code="invalid_json") from None
    if not isinstance(data, dict):
        raise InvalidRequest("The request body must be a JSON object.", code="invalid_json")
    request[_PARSED] = data
    return data


def param_path(loc: tuple[int | str, ...], data: Any, *, names_field: bool = False) -> str:
    """The path of ``loc`` in ``data``, skipping the union members and tags pydantic adds to ``loc``.

    A step that is not in the data is a union marker, except the last step when ``names_field``
    (a missing field), which names that field.
    """
    out = ""
    for i, step in enumerate(loc):
        if isinstance(data, list) and isinstance(step, int) and 0 <= step < len(data):
            out += f"[{step}]"
            data = data[step]
        elif isinstance(data, dict) and isinstance(step, str) and step in data:
            out += f".{step}" if out else step
            data = data[step]
        elif names_field and i == len(loc) - 1 and isinstance(data, dict) and isinstance(step, str):
            out += f".{step}" if out else step
    return out


def _message(error: ErrorDetails, param: str) -> str:
    kind = error["type"]
    if kind == "missing":
        return f"Missing required parameter: '{param}'."
    if kind == "extra_forbidden":
        return f"Unrecognized request argument supplied: {param}"
    return f"Invalid value for '{param}': {error['msg']}."


def validate(model: type[M], data: dict[str, Any]) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        # With unions pydantic reports one error per member; the most specific one (the longest
        # location inside the data) is the one that names what the client got wrong.
        best = max(errors, key=lambda e: len(param_path(e["loc"], data, names_field=e["type"] == "missing")))
        param = param_path(best["loc"], data, names_field=best["type"] == "missing")
        raise InvalidRequest(_message(best, param), param=param or None) from None
