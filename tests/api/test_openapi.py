"""``GET /openapi.json`` and ``GET /docs``: every route is described, the document is a valid
OpenAPI 3.1 one built from the handlers' own schemas, and schemathesis drives every operation of
the running gateway (fake models) with generated requests: no 5xx, every answer as documented."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import CheckContext
from schemathesis.core.result import Ok
from schemathesis.core.transport import Response
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.serving import Server, fake_settings
from unigate.api.openai.chat.schema import ChatCompletionRequest
from unigate.api.openapi.document import UndescribedRoute, build_document, routes_of
from unigate.app import create_app

MK = "mk-test"
EXAMPLES = 5
"""Generated requests per operation: ~80 operations, the whole run well under a minute."""


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    running = Server(fake_settings(tmp_path_factory.mktemp("openapi"), management_key=MK)).start()
    key, _ = running.new_key(10**12)
    yield running, key
    running.stop()


@pytest.fixture(scope="module")
def document(gateway: tuple[Server, str]) -> dict[str, Any]:
    answer = httpx2.get(gateway[0].url + "/openapi.json")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = answer.json()
    return body


def test_every_route_is_in_the_document(tmp_path: Path, document: dict[str, Any]) -> None:
    app = create_app(fake_settings(tmp_path, management_key=MK))
    routes = routes_of(app.router)
    assert len(routes) > 70
    for method, path in routes:
        assert method.lower() in document["paths"][path], (method, path)
    assert "/console" not in document["paths"]  # the console's HTML pages are not the API


def test_a_route_without_a_description_fails_the_build(tmp_path: Path) -> None:
    app = create_app(fake_settings(tmp_path))

    async def undocumented(request: web.Request) -> web.Response:
        return web.Response()

    app.router.add_get("/v1/undocumented", undocumented)
    with pytest.raises(UndescribedRoute, match="GET /v1/undocumented"):
        build_document(app.router)


def test_request_bodies_are_the_handlers_own_schemas(document: dict[str, Any]) -> None:
    chat = document["paths"]["/v1/chat/completions"]["post"]["requestBody"]["content"]["application/json"]
    assert chat["schema"] == {"$ref": "#/components/schemas/ChatCompletionRequest"}
    schemas = document["components"]["schemas"]
    assert set(schemas["ChatCompletionRequest"]["properties"]) == set(ChatCompletionRequest.model_fields)
    assert document["paths"]["/messages"]["post"]["responses"]["4XX"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/AnthropicError"
    }


def test_the_document_is_valid_openapi(document: dict[str, Any]) -> None:
    assert document["openapi"] == "3.1.0"
    loaded = schemathesis.openapi.from_dict(document)
    operations = list(loaded.get_all_operations())
    assert all(isinstance(op, Ok) for op in operations), [op for op in operations if not isinstance(op, Ok)]
    assert len(operations) == sum(len(methods) for methods in document["paths"].values())


def test_the_reference_page_renders_the_document_without_a_cdn(gateway: tuple[Server, str]) -> None:
    page = httpx2.get(gateway[0].url + "/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert 'fetch("openapi.json")' in page.text
    assert "http://" not in page.text  # nothing fetched from elsewhere
    assert "https://" not in page.text


def _built() -> dict[str, Any]:
    """The document of an app built as the served one is (the router is all it reads)."""
    with tempfile.TemporaryDirectory() as folder:
        return build_document(create_app(fake_settings(Path(folder), management_key=MK)).router)


BUILT = _built()
ALIASES = [path for path in BUILT["paths"] if "/v1" + path in BUILT["paths"]]
"""The routes also served without ``/v1`` (``/chat/completions``): the same handlers, so the run
drives each once, under ``/v1``; the document test above checks the aliases are described."""
schema = schemathesis.openapi.from_dict(BUILT).exclude(path=ALIASES)


def test_the_served_document_is_the_built_one(document: dict[str, Any]) -> None:
    assert document == BUILT


_MANAGEMENT = ("/v1/keys", "/v1/accounts")


def no_server_error(ctx: CheckContext, response: Response, case: Any) -> None:
    """No 5xx, but for the one a model that cannot be served here answers by design: OpenAI's Videos
    API defaults to ``sora-2``, which the catalog keeps as withdrawn (503 ``model_unavailable``)."""
    if response.status_code < 500:
        return
    body = response.json() if response.headers.get("content-type", [""])[0].startswith("application/json") else {}
    code = body.get("error", {}).get("code") if isinstance(body, dict) else None
    assert (response.status_code, code) == (503, "model_unavailable"), response.text[:500]


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_as_documented(case: Any, gateway: tuple[Server, str]) -> None:
    server, key = gateway
    token = MK if case.path.startswith(_MANAGEMENT) else key
    case.call_and_validate(
        base_url=server.url,
        headers={"Authorization": f"Bearer {token}"},
        checks=[no_server_error, status_code_conformance, content_type_conformance, response_schema_conformance],
        timeout=30,
    )


def test_a_multipart_body_aiohttp_cannot_parse_is_a_400(gateway: tuple[Server, str]) -> None:
    """Found by the run: a part whose header line is malformed was a 500."""
    server, key = gateway
    answer = httpx2.post(
        server.url + "/v1/stt",
        content=b"--XX\r\n[]--XX--\r\n",
        headers={"Authorization": f"Bearer {key}", "Content-Type": "multipart/form-data; boundary=XX"},
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid_request"
