"""``/v1/images/generations`` and ``/v1/images/edits`` through the official OpenAI SDK and raw
HTTP, on the deterministic fake image model: answers, stored files, charges, refusals."""

from __future__ import annotations

import base64

import httpx2 as httpx
import openai
import pytest

from tests.serving import Server
from unigate.providers.fake_media import png


def _client(server: Server, key: str) -> openai.OpenAI:
    return openai.OpenAI(api_key=key, base_url=f"{server.url}/v1", max_retries=0)


def test_generate_urls_that_download_without_a_key(server: Server) -> None:
    key, account = server.new_key(1_000_000)
    raw = _client(server, key).images.with_raw_response.generate(
        model="fake/image", prompt="a red square", n=2, size="16x16"
    )
    answer = raw.parse()
    assert answer.data is not None
    assert len(answer.data) == 2
    for image in answer.data:
        assert image.url is not None
        assert image.revised_prompt == "a red square"
        body = httpx.get(image.url)
        assert body.status_code == 200
        assert body.headers["content-type"] == "image/png"
        assert body.content.startswith(b"\x89PNG")
    meta = raw.http_response.json()["meta"]["usage"]
    assert meta == {"credits_used": 2_000, "usd_spent": 0.001}
    assert server.balance(account) == 1_000_000 - 2_000
    assert server.usage_rows(account) == [("fake/image", 0, 0, 2_000, "ok")]


def test_b64_json_inline(server: Server) -> None:
    key, _ = server.new_key(1_000_000)
    answer = _client(server, key).images.generate(model="fake/image", prompt="x", response_format="b64_json")
    assert answer.data is not None
    data = answer.data[0].b64_json
    assert data is not None
    assert base64.b64decode(data).startswith(b"\x89PNG")


def test_a_tampered_link_or_another_account_gets_404(server: Server) -> None:
    key, _ = server.new_key(1_000_000)
    other, _ = server.new_key(1_000_000)
    answer = _client(server, key).images.generate(model="fake/image", prompt="x")
    assert answer.data is not None
    url = answer.data[0].url
    assert url is not None
    plain = url.split("?")[0]
    assert httpx.get(url.replace("signature=", "signature=0")).status_code == 404
    assert httpx.get(plain).status_code == 404
    assert httpx.get(plain, headers={"Authorization": f"Bearer {other}"}).status_code == 404
    assert httpx.get(plain, headers={"Authorization": f"Bearer {key}"}).status_code == 200


def test_edit_takes_a_multipart_image(server: Server) -> None:
    key, account = server.new_key(1_000_000)
    answer = _client(server, key).images.edit(
        model="fake/image", image=("in.png", png(4, 4), "image/png"), prompt="make it blue"
    )
    assert answer.data is not None
    assert len(answer.data) == 1
    assert server.balance(account) == 1_000_000 - 1_000


def test_an_edit_of_a_file_that_is_not_an_image_is_400(server: Server) -> None:
    key, account = server.new_key(1_000_000)
    with pytest.raises(openai.BadRequestError, match="not a PNG, JPEG, GIF or WebP image") as caught:
        _client(server, key).images.edit(model="fake/image", image=("in.png", b"hello", "image/png"), prompt="x")
    assert caught.value.body["param"] == "image"  # type: ignore[index]
    assert server.balance(account) == 1_000_000


def test_unknown_fields_and_bad_values_are_400_naming_them(server: Server) -> None:
    key, _ = server.new_key(1_000_000)
    client = _client(server, key)
    with pytest.raises(openai.BadRequestError) as caught:
        client.images.generate(model="fake/image", prompt="x", extra_body={"colour": "red"})
    assert caught.value.body["param"] == "colour"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as caught:
        client.images.generate(model="fake/image", prompt="x", extra_body={"response_format": "png"})
    assert caught.value.body["param"] == "response_format"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as caught:
        client.images.generate(model="fake/image", prompt="x", n=0)
    assert caught.value.body["param"] == "n"  # type: ignore[index]


def test_refusals_cost_nothing(server: Server) -> None:
    poor, account = server.new_key(1_500)
    client = _client(server, poor)
    with pytest.raises(openai.APIStatusError) as caught:
        client.images.generate(model="fake/image", prompt="x", n=2)
    assert caught.value.status_code == 402
    with pytest.raises(openai.APIStatusError) as failed:
        client.images.generate(model="fake/image", prompt="FAIL")
    assert failed.value.status_code == 502
    with pytest.raises(openai.BadRequestError, match="use POST /v1/chat/completions"):
        client.images.generate(model="fake/echo", prompt="x")
    with pytest.raises(openai.NotFoundError):
        client.images.generate(model="no/such-model", prompt="x")
    assert server.balance(account) == 1_500


def test_a_key_without_the_image_scope_is_403(server: Server) -> None:
    key, _ = server.new_key(1_000_000)
    patched = httpx.patch(
        f"{server.url}/v1/keys/{key[:8]}", json={"scopes": ["model:chat"]}, headers={"Authorization": "Bearer mk-test"}
    )
    assert patched.status_code == 200, patched.text
    with pytest.raises(openai.PermissionDeniedError, match="model:image"):
        _client(server, key).images.generate(model="fake/image", prompt="x")


def test_the_path_without_v1_answers_too(server: Server) -> None:
    key, _ = server.new_key(1_000_000)
    response = httpx.post(
        f"{server.url}/images/generations",
        headers={"Authorization": f"Bearer {key}"},
        json={"model": "fake/image", "prompt": "x", "num_images": 1},
    )
    assert response.status_code == 200, response.text
