"""The catalog walk of issues 20 and 21: every image, text-to-speech, voice-chat, speech-to-text,
OCR, video, music and 3D model the gateway ships resolves to a provider that serves its modality, or says why none does;
every one has a price per unit; every one with a reference schema accepts the reference's own
example request.

The routes are written with the provider adapters (``catalog/data/routes/*.toml``) and the
registrations in ``providers/registry.py``; the examples are the service's API reference's
(``aimlapi-reference/models.json``, beside the repository).
"""

from __future__ import annotations

import re
from typing import Any

import orjson
import pytest

from tests.catalog.shared import HAVE_REFERENCE, REFERENCE
from unigate.catalog.fields import _data, request_schema
from unigate.catalog.loader import load_catalog
from unigate.catalog.spec import ModelSpec
from unigate.core.services import Modality
from unigate.errors import InvalidRequest
from unigate.providers.registry import REGISTRY

MODALITY = {
    "image": Modality.IMAGES,
    "tts": Modality.SPEECH,
    "voice-chat": Modality.SPEECH,
    "stt": Modality.TRANSCRIPTION,
    "ocr": Modality.OCR,
    "video": Modality.VIDEO,
    "music": Modality.MUSIC,
    "3d": Modality.THREE_D,
}

EXAMPLE_DRIFT = {"alibaba/qwen-image-edit": "image", "alibaba/wan-2-6-r2v": "duration"}
"""Reference examples that break their own schema, and the field they get wrong: the
qwen-image-edit code sample sends no ``image``, which its spec requires (an edit needs its input
image); the Wan 2.6 reference-to-video sample sends ``duration`` as the string ``"5"`` where its
spec has an integer enum."""

_AURA_2 = re.compile(r"#g1_aura-2-(?P<voice>[a-z]+)-[a-z]{2}")


def _served() -> list[ModelSpec]:
    return [s for s in load_catalog() if not s.deprecated and s.type in MODALITY]


def test_the_walk_covers_the_issues_281_models() -> None:
    counts: dict[str, int] = {}
    for spec in _served():
        counts[spec.type] = counts.get(spec.type, 0) + 1
    assert counts == {"image": 65, "tts": 69, "voice-chat": 7, "stt": 19, "ocr": 2, "video": 108, "music": 9, "3d": 2}


def test_every_model_resolves_to_a_provider_that_serves_it_or_says_why_not() -> None:
    problems = []
    for spec in _served():
        if not spec.provider:
            if not spec.unavailable.strip():
                problems.append(f"{spec.id} ({spec.type}): no provider and no reason why")
            continue
        registration = REGISTRY.get(spec.provider)
        if registration is None:
            problems.append(f"{spec.id} ({spec.type}): provider {spec.provider!r} is not registered")
        elif MODALITY[spec.type] not in registration.serves:
            problems.append(f"{spec.id} ({spec.type}): {spec.provider!r} does not declare {MODALITY[spec.type]}")
        if spec.unavailable:
            problems.append(f"{spec.id}: routed to {spec.provider!r} yet unavailable")
    assert not problems, f"{len(problems)} media models do not resolve:\n" + "\n".join(problems)


def test_every_model_has_a_unit_price() -> None:
    assert [s.id for s in _served() if s.unit_price is None or s.unit_price.per_million <= 0] == []


def _examples() -> dict[str, dict[str, Any]]:
    """The reference's example request for each catalog model with a schema."""
    reference = {e["model"]: e for e in orjson.loads((REFERENCE / "models.json").read_bytes())["models"]}
    data = _data()
    matched: dict[str, str] = data["about"]["matched_as"]
    examples = {}
    for model_id in data["models"]:
        example = reference[matched.get(model_id, model_id).split(" (")[0]]["examples"].get("request")
        aura = _AURA_2.fullmatch(model_id)
        if example and aura is not None:
            # deepgram/aura-2's example, whose voice the id fixes.
            example = {**example, "voice": aura["voice"]}
        if example:
            examples[model_id] = example
    return examples


@pytest.mark.skipif(not HAVE_REFERENCE, reason=f"the API reference ({REFERENCE}) is not checked out beside the repo")
def test_every_schema_accepts_its_reference_example() -> None:
    served = {s.id for s in _served()}
    examples = _examples()
    checked, problems = 0, []
    for model_id, example in examples.items():
        if model_id not in served:
            continue  # deprecated
        schema = request_schema(model_id)
        assert schema is not None
        try:
            schema.validate(example)
        except InvalidRequest as exc:
            if EXAMPLE_DRIFT.get(model_id) != exc.param:
                problems.append(f"{model_id}: {exc.message}")
            continue
        assert model_id not in EXAMPLE_DRIFT, f"{model_id}'s example is valid now: drop it from EXAMPLE_DRIFT"
        checked += 1
    assert not problems, "\n".join(problems)
    # The twelve legacy #g1_aura-<voice>-en ids have a schema but the reference gives no example.
    assert checked == len([m for m in examples if m in served]) - len(EXAMPLE_DRIFT) >= 250
