"""``catalog/fields.py``: each media model's request schema (``data/media_requests.json``, from the
service's API reference) and the 400s that name the field a body breaks."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from unigate.catalog.fields import RequestSchema, _data, request_schema
from unigate.catalog.loader import load_catalog
from unigate.errors import InvalidRequest, UnsupportedParameter

QWEN = "alibaba/qwen-image"
"""prompt (required, maxLength 4000), image_size ({width, height} 512..1536 or a named size),
num_images (number 1..4), seed (integer >= 1), output_format (jpeg | png), ..."""


def _error(schema: RequestSchema, body: dict[str, Any], **options: Any) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        schema.validate(body, **options)
    return caught.value


@pytest.fixture(scope="module")
def qwen() -> RequestSchema:
    schema = request_schema(QWEN)
    assert schema is not None
    return schema


def test_a_valid_body_comes_back_as_given_without_defaults(qwen: RequestSchema) -> None:
    body = {"model": QWEN, "prompt": "a T-Rex", "num_images": 2, "image_size": {"width": 1024, "height": 768}}
    out = qwen.validate(body)
    assert out == body
    assert out is not body
    assert isinstance(out["num_images"], int)  # a number field keeps the int it was given
    assert "output_format" not in out  # the documented default (jpeg) is the provider's to apply
    assert qwen.defaults["output_format"] == qwen.default("output_format") == "jpeg"
    assert qwen.default("prompt") is None
    assert qwen.required == {"prompt"}
    assert qwen.fields[:2] == ("model", "prompt")


def test_an_unknown_field_is_named_with_what_the_model_accepts(qwen: RequestSchema) -> None:
    error = _error(qwen, {"prompt": "x", "foo": 1})
    assert isinstance(error, UnsupportedParameter)
    assert error.param == "foo"
    assert error.message.startswith(f"The model {QWEN} does not accept the field 'foo'; it accepts: model, prompt,")
    assert error.body()["error"]["code"] == "unsupported_parameter"


@pytest.mark.parametrize(
    ("body", "param", "says"),
    [
        ({"prompt": 7}, "prompt", "must be a string, not an integer"),
        ({"prompt": "x", "num_images": "2"}, "num_images", "must be a number, not a string"),
        ({"prompt": "x", "num_images": True}, "num_images", "must be a number, not a boolean"),
        ({"prompt": "x", "seed": 1.5}, "seed", "must be an integer, not a number"),
        ({"prompt": "x", "output_format": "gif"}, "output_format", "must be one of 'jpeg', 'png'; got 'gif'"),
        ({"prompt": "x", "num_images": 5}, "num_images", "must be at most 4; got 5"),
        ({"prompt": "x", "seed": 0}, "seed", "must be at least 1; got 0"),
        ({"prompt": "x" * 4001}, "prompt", "must be at most 4000 characters long; got 4001"),
        ({"num_images": 1}, "prompt", f"The model {QWEN} needs the field 'prompt'"),
        ({"prompt": None}, "prompt", f"The model {QWEN} needs the field 'prompt'"),
        ({"prompt": "x", "image_size": {"width": 100}}, "image_size.width", "must be at least 512; got 100"),
        ({"prompt": "x", "image_size": {"w": 1}}, "image_size.w", "does not accept the key 'w'; it accepts: width"),
        ({"prompt": "x", "image_size": "huge"}, "image_size", "must be one of 'square_hd', 'square'"),
        ({"prompt": "x", "image_size": 3}, "image_size", "must be an object with width, height or one of"),
    ],
)
def test_each_broken_rule_names_its_field(qwen: RequestSchema, body: dict[str, Any], param: str, says: str) -> None:
    error = _error(qwen, body)
    assert error.param == param
    assert says in error.message
    assert error.status == 400


def test_null_for_an_optional_field_counts_as_not_given(qwen: RequestSchema) -> None:
    assert qwen.validate({"prompt": "x", "seed": None}) == {"prompt": "x", "seed": None}


def test_ignored_fields_are_neither_checked_nor_required(qwen: RequestSchema) -> None:
    body = {"n": 2, "response_format": "b64_json", "size": "1024x1024"}
    assert qwen.validate(body, ignore={"n", "response_format", "size", "prompt"}) == body


def test_form_values_are_read_as_their_fields_type() -> None:
    schema = request_schema("aai/universal")
    assert schema is not None
    out = schema.validate(
        {
            "model": "aai/universal",
            "speakers_expected": "2",
            "punctuate": "false",
            "language_confidence_threshold": "0.5",
        },
        form=True,
    )
    assert out["speakers_expected"] == 2
    assert out["punctuate"] is False
    assert out["language_confidence_threshold"] == 0.5
    assert _error(schema, {"speakers_expected": "two"}, form=True).param == "speakers_expected"
    assert _error(schema, {"speakers_expected": "2"}).param == "speakers_expected"  # JSON: no parsing


def test_uploads_are_left_to_the_edge_and_array_items_are_checked() -> None:
    schema = request_schema("aai/universal")
    assert schema is not None
    assert schema.validate({"audio": b"RIFF", "word_boost": ["unigate"]})["audio"] == b"RIFF"
    error = _error(schema, {"custom_spelling": [{"from": "a", "to": "b"}, {"from": "c"}]})
    assert error.param == "custom_spelling[1].to"
    assert _error(schema, {"redact_pii_policies": ["nope"]}).param == "redact_pii_policies[0]"


def test_array_lengths_and_the_alternative_a_discriminator_picks() -> None:
    flux = request_schema("blackforestlabs/flux-2-edit")
    assert flux is not None
    assert "must have at most 3 items; got 4" in _error(flux, {"prompt": "x", "image_urls": ["u"] * 4}).message
    assert _error(flux, {"prompt": "x", "image_urls": []}).param == "image_urls"
    ocr = request_schema("mistral/mistral-ocr-latest")
    assert ocr is not None
    assert ocr.validate({"document": {"type": "image_url", "image_url": "https://example.com/a.png"}})
    error = _error(ocr, {"document": {"type": "document_url"}})
    assert (error.param, error.message) == (
        "document.document_url",
        "The field 'document' needs the key 'document_url'.",
    )


def test_schemas_by_alias_spec_and_edit_request() -> None:
    nano = request_schema("google/gemini-3-pro-image-preview")  # an alias of google/nano-banana-pro
    assert nano is not None
    assert nano.model == "google/nano-banana-pro"
    assert request_schema("google/nano-banana-pro") is nano  # compiled once
    spec = next(s for s in load_catalog() if s.id == "openai/gpt-image-1")
    generate, edit = request_schema(spec), request_schema(spec, edit=True)
    assert generate is not None
    assert edit is not None
    assert generate is not edit
    assert "mask" in edit.fields
    assert "mask" not in generate.fields
    assert request_schema(QWEN, edit=True) is None
    assert request_schema("gpt-4o") is None  # a chat model
    assert request_schema("alibaba/wan2.2-vace-fun-14b-depth") is None  # the reference has no such id


def test_a_voice_in_the_model_id_is_the_only_voice() -> None:
    zeus = request_schema("#g1_aura-2-zeus-en")
    assert zeus is not None
    assert zeus.validate({"text": "hi", "voice": "zeus"})
    assert _error(zeus, {"text": "hi", "voice": "thalia"}).message.endswith("must be one of 'zeus'; got 'thalia'.")


# -- properties -----------------------------------------------------------------------------------

_IDS = sorted(_data()["models"])
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@st.composite
def _bodies(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    model_id = draw(st.sampled_from(_IDS))
    schema = request_schema(model_id)
    assert schema is not None
    names = st.sampled_from(schema.fields) | st.text(max_size=8)
    return model_id, draw(st.dictionaries(names, _json, max_size=6))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_bodies(), st.booleans())
def test_random_bodies_raise_nothing_but_invalid_request(case: tuple[str, dict[str, Any]], form: bool) -> None:
    model_id, body = case
    schema = request_schema(model_id)
    assert schema is not None
    try:
        out = schema.validate(body, form=form)
    except InvalidRequest as exc:
        # The error names a field of the body, or a required one it lacks.
        param = exc.param or ""
        assert param in schema.required or any(param == k or param.startswith((f"{k}.", f"{k}[")) for k in body)
        return
    if not form:
        assert out == body  # what passes comes back as given


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(_IDS), _json)
def test_any_body_at_all_raises_nothing_but_invalid_request(model_id: str, body: Any) -> None:
    schema = request_schema(model_id)
    assert schema is not None
    with contextlib.suppress(InvalidRequest):
        schema.validate(body)
