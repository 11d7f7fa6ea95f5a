"""``GET /v1/models`` and ``GET /v1/models/{id}``: OpenAI's shape, read by the official ``openai``
SDK; every model the caller can use (chat and embeddings), narrowed by a key's scopes; one model
by id or alias; 404 ``model_not_found`` for the others."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import openai
import pytest

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


def test_the_sdk_lists_chat_and_embedding_models(server: Server, key: str) -> None:
    models = {m.id: m for m in _client(server, key).models.list()}
    fake_media = {"fake/image", "fake/speech", "fake/transcribe", "fake/ocr"}
    embedded = {LOCAL_EMBEDDING_MODEL_ID, LOCAL_SPEECH_MODEL_ID, LOCAL_TRANSCRIPTION_MODEL_ID}
    assert set(models) == {FAKE_MODEL_ID, *fake_media, *embedded}
    fake = models[FAKE_MODEL_ID]
    assert (fake.object, fake.owned_by) == ("model", "unigate")
    assert isinstance(fake.created, int)


def test_no_key_lists_the_same_and_a_wrong_key_is_401(server: Server, key: str) -> None:
    public = httpx2.get(f"{server.url}/v1/models").json()
    keyed = httpx2.get(f"{server.url}/v1/models", headers={"Authorization": f"Bearer {key}"}).json()
    assert public == keyed
    assert public["object"] == "list"
    with pytest.raises(openai.AuthenticationError):
        _client(server, "sk-wrong").models.list()


def test_a_key_lists_only_what_its_scopes_allow(server: Server) -> None:
    responses_only = _scoped_key(server, ["model:responses"])
    listed = {m.id for m in _client(server, responses_only).models.list()}
    assert listed == {FAKE_MODEL_ID}  # embeddings need model:embeddings
    chat = _scoped_key(server, ["model:chat"])
    assert {m.id for m in _client(server, chat).models.list()} == {FAKE_MODEL_ID}
    both = _scoped_key(server, ["model:chat", "model:embeddings"])
    assert {m.id for m in _client(server, both).models.list()} == {FAKE_MODEL_ID, LOCAL_EMBEDDING_MODEL_ID}
    with pytest.raises(openai.NotFoundError):
        _client(server, responses_only).models.retrieve(LOCAL_EMBEDDING_MODEL_ID)


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
