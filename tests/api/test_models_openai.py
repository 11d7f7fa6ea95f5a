"""``GET /v1/models`` and ``GET /v1/models/{id}``: OpenAI's shape, read by the official ``openai``
SDK; every model the caller can use (chat, embeddings, images, speech, transcription, OCR, and the
video, music and 3D jobs), narrowed by a key's scopes; one model by id or alias; 404
``model_not_found`` for the others."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2
import openai
import pytest

from tests.api.fuzzing import WAV
from tests.serving import Server, fake_settings
from unigate.catalog.builtin import (
    FAKE_MODEL_ID,
    LOCAL_EMBEDDING_MODEL_ID,
    LOCAL_SPEECH_MODEL_ID,
    LOCAL_TRANSCRIPTION_MODEL_ID,
)

MK = {"Authorization": "Bearer mk-test"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(fake_settings(tmp_path_factory.mktemp("models"), management_key="mk-test")).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def key(server: Server) -> str:
    return server.new_key(credits=1_000)[0]


def _client(server: Server, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0)


def _scoped_key(server: Server, scopes: list[str]) -> str:
    token = server.new_key(credits=1_000)[0]
    r = httpx2.patch(f"{server.url}/v1/keys/{token[:8]}", json={"scopes": scopes}, headers=MK)
    assert r.status_code == 200, r.text
    return token


FAKE_MEDIA = {"fake/image", "fake/speech", "fake/transcribe", "fake/ocr"}
FAKE_JOBS = {"fake/video", "fake/music", "fake/3d"}
EMBEDDED = {LOCAL_EMBEDDING_MODEL_ID, LOCAL_SPEECH_MODEL_ID, LOCAL_TRANSCRIPTION_MODEL_ID}


def test_the_sdk_lists_every_model_of_every_modality(server: Server, key: str) -> None:
    models = {m.id: m for m in _client(server, key).models.list()}
    assert set(models) == {FAKE_MODEL_ID, *FAKE_MEDIA, *FAKE_JOBS, *EMBEDDED}
    fake = models[FAKE_MODEL_ID]
    assert (fake.object, fake.owned_by) == ("model", "unigate")
    assert isinstance(fake.created, int)
    for item in httpx2.get(f"{server.url}/v1/models").json()["data"]:
        assert set(item) == {"id", "object", "created", "owned_by"}
        assert item["object"] == "model"
        assert item["owned_by"]


CALLS: dict[str, tuple[str, dict[str, Any]]] = {
    FAKE_MODEL_ID: ("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}),
    LOCAL_EMBEDDING_MODEL_ID: ("/v1/embeddings", {"input": "hi"}),
    "fake/image": ("/v1/images/generations", {"prompt": "a cat"}),
    "fake/speech": ("/v1/tts", {"text": "hi"}),
    "fake/transcribe": ("/v1/stt/create", {"url": "data:audio/wav;base64," + base64.b64encode(WAV).decode()}),
    "fake/ocr": (
        "/v1/ocr",
        {"document": {"type": "document_url", "document_url": "data:application/pdf;base64,JVBERi0x"}},
    ),
    "fake/video": ("/v2/video/generations", {"prompt": "a cat"}),
    "fake/music": ("/v2/generate/audio", {"prompt": "a song"}),
    "fake/3d": ("/v2/generate/3d", {"prompt": "a cup"}),
}
"""A call of each listed model on its endpoint. The embedded speech and transcription models load
their weights on first use; their own tests call them."""


def test_every_listed_model_answers_on_its_endpoint(server: Server, key: str) -> None:
    listed = {m.id for m in _client(server, key).models.list()}
    assert listed - {LOCAL_SPEECH_MODEL_ID, LOCAL_TRANSCRIPTION_MODEL_ID} == set(CALLS)
    auth = {"Authorization": f"Bearer {server.new_key(credits=10**12)[0]}"}
    for model, (path, body) in CALLS.items():
        r = httpx2.post(f"{server.url}{path}", json={"model": model, **body}, headers=auth, timeout=60)
        assert r.status_code == 200, (model, r.text)


def test_no_key_lists_the_same_and_a_wrong_key_is_401(server: Server, key: str) -> None:
    public = httpx2.get(f"{server.url}/v1/models").json()
    keyed = httpx2.get(f"{server.url}/v1/models", headers={"Authorization": f"Bearer {key}"}).json()
    assert public == keyed
    assert public["object"] == "list"
    with pytest.raises(openai.AuthenticationError):
        _client(server, "sk-wrong").models.list()


@pytest.mark.parametrize(
    ("scopes", "listed"),
    [
        (["model:responses"], {FAKE_MODEL_ID}),  # embeddings need model:embeddings
        (["model:chat"], {FAKE_MODEL_ID}),
        (["model:chat", "model:embeddings"], {FAKE_MODEL_ID, LOCAL_EMBEDDING_MODEL_ID}),
        (["model:video"], {"fake/video"}),
        (["model:audio"], {"fake/transcribe", "fake/music", LOCAL_TRANSCRIPTION_MODEL_ID}),  # music is audio made
        (["model:image"], {"fake/image", "fake/3d"}),  # 3D is made from images
        (["model:speech"], {"fake/speech", LOCAL_SPEECH_MODEL_ID}),
        (["model:ocr"], {"fake/ocr"}),
    ],
)
def test_a_key_lists_only_what_its_scopes_allow(server: Server, scopes: list[str], listed: set[str]) -> None:
    client = _client(server, _scoped_key(server, scopes))
    assert {m.id for m in client.models.list()} == listed
    for name in {FAKE_MODEL_ID, *FAKE_MEDIA, *FAKE_JOBS, *EMBEDDED} - listed:
        with pytest.raises(openai.NotFoundError):
            client.models.retrieve(name)
    for name in listed:
        assert client.models.retrieve(name).id == name


def test_retrieve_by_id_or_alias(server: Server, key: str) -> None:
    client = _client(server, key)
    fake = client.models.retrieve(FAKE_MODEL_ID)  # an id with a slash
    assert (fake.id, fake.object, fake.owned_by) == (FAKE_MODEL_ID, "model", "unigate")
    by_alias = client.models.retrieve("all-minilm-l6-v2")
    assert by_alias.id == LOCAL_EMBEDDING_MODEL_ID
    raw = httpx2.get(f"{server.url}/v1/models/{LOCAL_EMBEDDING_MODEL_ID}")
    assert raw.status_code == 200
    assert raw.json() == {
        "id": LOCAL_EMBEDDING_MODEL_ID,
        "object": "model",
        "created": fake.created,
        "owned_by": "sentence-transformers",
    }


@pytest.mark.parametrize("name", ["no-such-model", "gpt-4o"])  # unknown; known but not configured here
def test_a_model_the_caller_cannot_use_is_404(server: Server, key: str, name: str) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        _client(server, key).models.retrieve(name)
    assert caught.value.code == "model_not_found"
    error = httpx2.get(f"{server.url}/v1/models/{name}").json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert (error["code"], error["param"]) == ("model_not_found", "model")


def test_the_anthropic_sdk_lists_and_retrieves_models(server: Server, key: str) -> None:
    """Anthropic's shape for Anthropic's clients (Claude Code's model checks): the chat models."""
    listed = {FAKE_MODEL_ID}  # the only chat model this server has
    claude = anthropic.Anthropic(base_url=server.url, api_key=key, max_retries=0)
    page = claude.models.list()
    assert {m.id for m in page.data} == listed
    assert {m.type for m in page.data} == {"model"}
    one = claude.models.retrieve(FAKE_MODEL_ID)
    assert (one.id, one.type) == (FAKE_MODEL_ID, "model")
    with pytest.raises(anthropic.AuthenticationError):
        anthropic.Anthropic(base_url=server.url, api_key="wrong", max_retries=0).models.list()
