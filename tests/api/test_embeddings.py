"""``POST /v1/embeddings`` through the official ``openai`` SDK (and raw HTTP where the SDK hides the
wire): the embedded MiniLM, billing, errors, and upstream embedding models through the
OpenAI-compatible adapter against an emulator."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import numpy as np
import openai
import pytest

from tests.providers.emulators import Emulator, EmulatorThread, json_reply, model_spec, provider_config
from tests.serving import Server, fake_settings
from unigate.catalog.builtin import LOCAL_EMBEDDING_MODEL_ID, fake_spec
from unigate.catalog.spec import Price
from unigate.providers.fake import FakeProvider
from unigate.providers.openai_compat import OpenAICompatProvider

MODEL = LOCAL_EMBEDDING_MODEL_ID


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(fake_settings(tmp_path_factory.mktemp("embeddings"), management_key="mk-test")).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def key(server: Server) -> str:
    return server.new_key(credits=10_000_000)[0]


@pytest.fixture(scope="module")
def client(server: Server, key: str) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0) as client:
        yield client


def post(server: Server, key: str, body: dict[str, Any]) -> httpx2.Response:
    return httpx2.post(f"{server.url}/v1/embeddings", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=60)


def matrix(r: Any) -> np.ndarray[Any, np.dtype[np.float64]]:
    return np.array([d.embedding for d in r.data], dtype=np.float64)


def test_sdk_embeddings_of_paraphrases_are_closer(client: openai.OpenAI) -> None:
    r = client.embeddings.create(
        model=MODEL,
        input=[
            "The cat sits on the mat.",
            "A cat is sitting on a rug.",
            "Quarterly revenue grew by ten percent.",
            "Sales rose 10% this quarter.",
        ],
    )
    assert r.object == "list"
    assert r.model == MODEL
    assert [d.index for d in r.data] == [0, 1, 2, 3]
    v = matrix(r)
    assert v.shape == (4, 384)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    sims = v @ v.T
    for paraphrase in (sims[0, 1], sims[2, 3]):
        for unrelated in (sims[0, 2], sims[0, 3], sims[1, 2], sims[1, 3]):
            assert paraphrase > unrelated + 0.3
    assert r.usage.prompt_tokens == r.usage.total_tokens > 4


def test_float_and_base64_encodings_agree(server: Server, key: str) -> None:
    floats = post(server, key, {"model": MODEL, "input": "hello world"})
    packed = post(server, key, {"model": MODEL, "input": "hello world", "encoding_format": "base64"})
    assert floats.status_code == packed.status_code == 200
    vector = np.array(floats.json()["data"][0]["embedding"], dtype=np.float32)
    decoded = np.frombuffer(base64.b64decode(packed.json()["data"][0]["embedding"]), dtype="<f4")
    np.testing.assert_array_equal(vector, decoded)
    assert floats.json()["data"][0]["object"] == "embedding"


def test_dimensions_truncate_and_renormalise(client: openai.OpenAI) -> None:
    full = matrix(client.embeddings.create(model=MODEL, input="vectors for search"))[0]
    short = matrix(client.embeddings.create(model=MODEL, input="vectors for search", dimensions=64))[0]
    assert short.shape == (64,)
    assert np.linalg.norm(short) == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_allclose(short, full[:64] / np.linalg.norm(full[:64]), atol=1e-6)


def test_token_id_inputs_are_wordpiece_ids(client: openai.OpenAI) -> None:
    # [CLS] hello world [SEP] in bert-base-uncased's vocabulary: the same vector as the text.
    by_ids = matrix(client.embeddings.create(model=MODEL, input=[[101, 7592, 2088, 102], [7592, 2088]]))
    by_text = matrix(client.embeddings.create(model=MODEL, input="hello world"))[0]
    np.testing.assert_allclose(by_ids[0], by_text, atol=1e-6)
    np.testing.assert_allclose(by_ids[1], by_text, atol=1e-6)


def test_usage_is_billed_at_the_input_price(server: Server) -> None:
    key, account = server.new_key(credits=1_000_000)
    r = post(server, key, {"model": MODEL, "input": ["one", "two three"]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["usage"] == {"prompt_tokens": 7, "total_tokens": 7}  # [CLS] one [SEP], [CLS] two three [SEP]
    # 20,000 credits per 1M input tokens: 7 tokens cost ceil(0.14) = 1 credit.
    assert body["meta"]["usage"] == {"credits_used": 1, "usd_spent": 0.0000005}
    assert server.usage_rows(account)[-1] == (MODEL, 7, 0, 1, "ok")
    assert server.balance(account) == 1_000_000 - 1
    assert server.open_reservations() == 0


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        ({"model": MODEL}, 400, "input"),
        ({"input": "x"}, 400, "model"),
        ({"model": MODEL, "input": ""}, 400, "input"),
        ({"model": MODEL, "input": []}, 400, "input"),
        ({"model": MODEL, "input": "x", "dimensions": 385}, 400, "dimensions"),
        ({"model": MODEL, "input": "x", "dimensions": 0}, 400, "dimensions"),
        ({"model": MODEL, "input": "x", "encoding_format": "int8"}, 400, "encoding_format"),
        ({"model": MODEL, "input": [[1, 40000]]}, 400, "input[0]"),
        ({"model": MODEL, "input": "x", "extra": 1}, 400, "extra"),
        ({"model": "fake/echo", "input": "x"}, 400, "model"),
        ({"model": "nope/nothing", "input": "x"}, 404, "model"),
    ],
)
def test_bad_requests_get_openai_errors(
    server: Server, key: str, body: dict[str, Any], status: int, param: str
) -> None:
    r = post(server, key, body)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["param"] == param


def test_missing_key_is_401(server: Server) -> None:
    r = httpx2.post(f"{server.url}/v1/embeddings", json={"model": MODEL, "input": "x"})
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "missing_api_key"


def test_chat_on_an_embedding_model_is_400(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert caught.value.code == "model_not_supported"


def test_embeddings_use_the_chat_scope(server: Server) -> None:
    store_key = server.new_key(credits=1_000)[0]
    mk = {"Authorization": "Bearer mk-test"}
    prefix = store_key[:8]
    patched = httpx2.patch(f"{server.url}/v1/keys/{prefix}", json={"scopes": ["model:responses"]}, headers=mk)
    assert patched.status_code == 200, patched.text
    r = post(server, store_key, {"model": MODEL, "input": "x"})
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "missing_scope"


# ---- upstream embedding models (OpenAI-compatible adapter) ------------------------------------


@pytest.fixture
def upstream() -> Iterator[Emulator]:
    with EmulatorThread() as emulator:
        yield emulator


@pytest.fixture
def remote(upstream: Emulator, tmp_path: Path) -> Iterator[Server]:
    # 1,000 credits per input token, so that the bill shows the token count.
    spec = model_spec("openai", "text-embedding-3-small", type="embedding", price=Price(10**9, 0), params=frozenset())
    provider = OpenAICompatProvider(provider_config("openai", upstream.url + "/v1"))
    running = Server(
        fake_settings(tmp_path),
        models=[spec, fake_spec()],
        providers={"openai": provider, "fake": FakeProvider()},
        embedders={"openai": provider},
    )
    yield running.start()
    running.stop()


def test_upstream_embeddings_are_forwarded_and_billed(remote: Server, upstream: Emulator) -> None:
    vectors = [[0.6, 0.8, 0.0], [0.0, 0.0, 1.0]]
    packed = base64.b64encode(np.array(vectors[1], dtype="<f4").tobytes()).decode()
    upstream.queue(
        json_reply(
            {
                "object": "list",
                "data": [
                    {"object": "embedding", "index": 1, "embedding": packed},
                    {"object": "embedding", "index": 0, "embedding": vectors[0]},
                ],
                "model": "text-embedding-3-small",
                "usage": {"prompt_tokens": 3, "total_tokens": 3},
            }
        )
    )
    key, account = remote.new_key(credits=1_000_000)
    with openai.OpenAI(base_url=f"{remote.url}/v1", api_key=key, max_retries=0) as client:
        r = client.embeddings.create(model="openai/text-embedding-3-small", input=["a", "b"], dimensions=3, user="u1")
    sent = upstream.last
    assert sent.path == "/v1/embeddings"
    assert sent.body == {
        "model": "text-embedding-3-small",
        "input": ["a", "b"],
        "encoding_format": "float",
        "dimensions": 3,
        "user": "u1",
    }
    assert sent.headers["authorization"].startswith("Bearer ")
    np.testing.assert_allclose(matrix(r), vectors, atol=1e-7)
    assert r.usage.prompt_tokens == 3
    # Reserved for the input bound (UTF-8 bytes + 1 per input: 4 tokens), settled to the 3 reported.
    assert r.model_dump()["meta"]["usage"]["credits_used"] == 3_000
    assert remote.usage_rows(account)[-1] == ("openai/text-embedding-3-small", 3, 0, 3_000, "ok")
    assert remote.balance(account) == 1_000_000 - 3_000


def test_upstream_failure_settles_nothing(remote: Server, upstream: Emulator) -> None:
    upstream.queue(json_reply({"error": {"message": "boom", "type": "server_error"}}, status=500))
    key, account = remote.new_key(credits=1_000_000)
    r = post(remote, key, {"model": "openai/text-embedding-3-small", "input": "a"})
    assert r.status_code == 502
    assert remote.balance(account) == 1_000_000
    assert remote.open_reservations() == 0


def test_a_provider_without_embeddings_is_400(remote: Server) -> None:
    key, _ = remote.new_key(credits=1_000_000)
    r = post(remote, key, {"model": "fake/echo", "input": "a"})
    assert r.status_code == 400
    assert r.json()["error"]["param"] == "model"
