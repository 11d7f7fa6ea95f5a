"""The service catalogue's filters and ``include`` sections on ``GET /models`` and, delegated, on
``GET /v1/models`` (the service docs' page "Model Catalogue API"): OR within a parameter, AND
across them, case-insensitive, comma-separated or repeated; the sections' shapes; the pricing in
USD from the catalog's integer credits."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx2
import pytest

from tests.api.test_account_reports import conforms, needs_reference, reference_schema
from tests.serving import Server, fake_settings
from unigate.catalog.builtin import FAKE_MODEL_ID
from unigate.catalog.loader import load_catalog
from unigate.catalog.spec import CREDITS_PER_USD


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(fake_settings(tmp_path_factory.mktemp("catalogue"), management_key="mk-test")).start()
    yield running
    running.stop()


def models(server: Server, params: Any, path: str = "/models") -> list[dict[str, Any]]:
    r = httpx2.get(f"{server.url}{path}", params=params)
    assert r.status_code == 200, r.text
    body = r.json()
    return list(body if path == "/models" else body["data"])


def test_no_parameter_keeps_the_plain_listings(server: Server) -> None:
    everything = models(server, {})
    assert len(everything) == len(models(server, {"include": "nothing-known"}))
    assert "capabilities" not in everything[0]
    assert set(models(server, {}, "/v1/models")[0]) == {"id", "object", "created", "owned_by"}


def test_filters_or_within_and_across(server: Server) -> None:
    i2v = models(server, {"capabilities": "image_to_video", "include": "capabilities"})
    assert i2v
    assert all(m["type"] == "video" and "image_to_video" in m["capabilities"] for m in i2v)
    either = models(server, {"capabilities": "IMAGE_TO_VIDEO,text_to_image"})
    repeated = models(server, [("capabilities", "image_to_video"), ("capabilities", "Text_To_Image")])
    assert either == repeated
    assert {m["type"] for m in either} == {"video", "image"}
    assert len(either) > len(i2v)
    both = models(
        server, {"output_modalities": "video", "capabilities": "audio_generation", "include": "modalities,capabilities"}
    )
    assert both
    assert all(m["modalities"]["output"] == ["video"] and "audio_generation" in m["capabilities"] for m in both)
    assert len(both) < len(models(server, {"output_modalities": "video"}))
    assert models(server, {"type": "EMBEDDING"}) == models(server, {"tags": "type:embedding"})
    assert all(m["type"] == "embedding" for m in models(server, {"type": "embedding"}))
    audio_in = models(server, {"input_modalities": "audio", "include": "modalities"})
    assert {m["type"] for m in audio_in} >= {"stt"}
    assert all("audio" in m["modalities"]["input"] for m in audio_in)
    assert len(models(server, {"modalities": "audio"})) > len(audio_in)  # speech models make audio
    assert models(server, {"capabilities": "image_to_video", "type": "image"}) == []


def test_id_matches_aliases_too(server: Server) -> None:
    spec = next(s for s in load_catalog() if s.aliases)
    (found,) = models(server, {"id": spec.aliases[-1].upper()})
    assert found["id"] == spec.id
    pair = models(server, {"id": f"{spec.id},{FAKE_MODEL_ID}"})
    assert {m["id"] for m in pair} == {spec.id, FAKE_MODEL_ID}


def test_pricing_sections_in_usd(server: Server) -> None:
    chat = next(s for s in load_catalog() if s.type == "chat-completion" and s.price.input_per_mtok)
    (item,) = models(server, {"id": chat.id, "include": "pricing"})
    assert item["pricing"]["kind"] == "fixed"
    assert item["pricing"]["units"] == [
        {"unit": "input_token", "price": chat.price.input_per_mtok / CREDITS_PER_USD, "per": 1_000_000},
        {"unit": "output_token", "price": chat.price.output_per_mtok / CREDITS_PER_USD, "per": 1_000_000},
    ]
    varied = next(s for s in load_catalog() if s.unit_price and s.unit_price.variants and s.type == "image")
    assert varied.unit_price is not None
    (item,) = models(server, {"id": varied.id, "details": "true"})
    assert {"pricing", "modalities", "capabilities"} <= set(item)
    pricing = item["pricing"]
    assert (pricing["kind"], pricing["dimensions"]) == ("variants", ["quality", "size"])
    assert pricing["variants"][0] == {
        "when": {},
        "price": varied.unit_price.per_million / 1_000_000 / CREDITS_PER_USD,
        "unit": "image",
        "per": 1,
    }
    assert len(pricing["variants"]) == 1 + len(varied.unit_price.variants)


@needs_reference
def test_v1_models_takes_the_same_filters_on_the_models_a_caller_can_use(server: Server) -> None:
    usable = {m["id"] for m in models(server, {}, "/v1/models")}
    chat = models(server, {"type": "chat-completion", "include": "all"}, "/v1/models")
    assert chat
    assert {m["id"] for m in chat} <= usable
    body = httpx2.get(f"{server.url}/v1/models", params={"id": FAKE_MODEL_ID, "include": "all"}).json()
    conforms(body, reference_schema("GET", "/v1/models"))
    (item,) = body["data"]
    assert (item["object"], item["id"]) == ("model", FAKE_MODEL_ID)
    assert {"aliases", "type", "info", "tags", "modalities", "capabilities", "pricing"} <= set(item)
    # Of the catalog's video models, only the fake one can be called on this server.
    assert [m["id"] for m in models(server, {"type": "video"}, "/v1/models")] == ["fake/video"]
