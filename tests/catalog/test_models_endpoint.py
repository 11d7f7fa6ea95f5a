"""``GET /models`` renders the seeds' item shape (survey §2.7) and says what this server can
serve; ``GET /v1/models`` lists exactly the servable models; both are rendered once per state."""

from __future__ import annotations

from typing import Any

import httpx2

from tests.serving import Server
from unigate.api.openai.models import _render
from unigate.catalog.builtin import FAKE_MODEL_ID, fake_spec
from unigate.catalog.catalog import Catalog
from unigate.catalog.loader import load_catalog
from unigate.core.services import Modality

TYPES = {"chat-completion", "image", "video", "stt", "tts", "voice-chat", "music", "ocr", "3d", "embedding"}
ITEM_KEYS = {"id", "type", "info", "features", "endpoints", "available", "aliases", "deprecated"}
INFO_REQUIRED = {"name", "developer", "description", "url", "docs_url"}
INFO_OPTIONAL = {"contextLength", "maxTokens"}


def _items(server: Server) -> dict[str, dict[str, Any]]:
    r = httpx2.get(f"{server.url}/models", timeout=30)  # no key: the endpoint is public
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    return {item["id"]: item for item in r.json()}


def test_items_have_the_seeds_shape(server: Server) -> None:
    items = _items(server)
    assert len(items) > 600
    for item in items.values():
        assert set(item) == ITEM_KEYS, item["id"]
        assert item["type"] in TYPES
        info = item["info"]
        assert INFO_REQUIRED <= set(info) <= INFO_REQUIRED | INFO_OPTIONAL, item["id"]
        assert all(isinstance(info[k], str) for k in INFO_REQUIRED)
        assert all(info[k] for k in ("name", "developer", "description"))
        assert all(isinstance(info[k], int) for k in INFO_OPTIONAL & set(info))
        assert all(isinstance(f, str) for f in item["features"])
        assert item["endpoints"]
        assert all(e.startswith("/v") for e in item["endpoints"])
        if item["type"] == "chat-completion":
            # "every chat model includes a non-empty features list" (seeds, 33701)
            assert item["features"][0] == "openai/chat-completion", item["id"]
        else:
            assert item["features"] == []


def test_the_seeds_example_items(server: Server) -> None:
    """The three items the seeds print (34488-34560), as far as our data can match them."""
    items = _items(server)
    o3 = items["o3-mini"]
    assert (o3["type"], o3["info"]["developer"]) == ("chat-completion", "Open AI")
    assert (o3["info"]["contextLength"], o3["info"]["maxTokens"]) == (200000, 100000)
    assert o3["endpoints"] == ["/v1/chat/completions", "/v1/messages", "/v1/responses", "/v1/completions"]
    for feature in (
        "openai/chat-completion.function",
        "openai/chat-completion.message.refusal",
        "openai/chat-completion.message.developer",
        "openai/chat-completion.reasoning",
        "openai/chat-completion.response-format",
    ):
        assert feature in o3["features"]
    flux = items["flux/kontext-max/text-to-image"]
    assert (flux["type"], flux["info"]["developer"], flux["features"]) == ("image", "Flux", [])
    assert flux["endpoints"] == ["/v1/images/generations"]
    assert "contextLength" not in flux["info"]
    veo = items["veo2/image-to-video"]
    assert (veo["type"], veo["info"]["developer"]) == ("video", "Google")
    assert veo["endpoints"] == ["/v2/generate/video/google/generation", "/v2/video/generations"]


def test_available_means_a_configured_provider(server: Server) -> None:
    items = _items(server)
    assert items[FAKE_MODEL_ID]["available"] is True
    assert all(not i["available"] for i in items.values() if i["deprecated"])
    r = httpx2.get(f"{server.url}/v1/models", timeout=30)
    assert r.status_code == 200
    listed = r.json()
    assert listed["object"] == "list"
    assert {m["id"] for m in listed["data"]} == {i for i, item in items.items() if item["available"]}
    assert all(m["object"] == "model" and isinstance(m["created"], int) for m in listed["data"])


def test_listings_are_rendered_once_per_provider_state() -> None:
    catalog = Catalog([fake_spec(), *load_catalog()])
    fake = frozenset({(Modality.CHAT, "fake")})
    first = _render(catalog, "models", fake)
    assert _render(catalog, "models", fake) is first
    with_openai = _render(catalog, "models", fake | {(Modality.CHAT, "openai")})
    assert with_openai != first
    assert with_openai.count(b'"available":true') > first.count(b'"available":true')
    openai_list = _render(catalog, "openai", fake)
    assert b'"id":"fake/echo"' in openai_list
    assert b'"id":"gpt-4o"' not in openai_list


def test_repeated_requests_get_identical_bytes(server: Server) -> None:
    first = httpx2.get(f"{server.url}/models", timeout=30).content
    assert httpx2.get(f"{server.url}/models", timeout=30).content == first
