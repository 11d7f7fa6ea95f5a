"""Every model id of the seeds resolves, aliases name one model, and ``GET /models`` lists them.

The expected ids come from ``seed_ids.json``, written from the seed survey's §3 tables (a
person's reading of the seeds, independent of ``scripts/build_catalog.py``); when the survey is
present the list is checked against it first.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx2
import orjson
import pytest

from tests.catalog.survey import NO_ID, SURVEY, committed_ids, read_survey
from tests.serving import Server
from unigate.catalog.catalog import Catalog
from unigate.catalog.loader import load_catalog

_COMMITTED = Path(__file__).with_name("seed_ids.json")


def _expected() -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads(_COMMITTED.read_bytes())
    return data


@pytest.mark.skipif(not SURVEY.exists(), reason=f"the seed survey ({SURVEY}) is not checked out beside the repo")
def test_committed_ids_are_the_surveys() -> None:
    survey = read_survey()
    active = set().union(*survey.active.values())
    # The survey's counts (§3): 472 active id strings, one of them the OCR row without an id;
    # the deprecated rows list 167 ids plus "-" for two rows without one.
    assert len(active) == 472
    assert NO_ID in active
    assert len(survey.deprecated - {"-"}) == 167
    assert committed_ids(survey) == _expected()


def test_every_seed_id_resolves() -> None:
    expected = _expected()
    catalog = Catalog(load_catalog())
    for name in expected["active"]:
        assert not catalog.resolve(name).deprecated, name
    for name in expected["deprecated"]:
        assert catalog.resolve(name).deprecated, name
    assert len(expected["active"]) == 471
    assert len(expected["deprecated"]) == 167


def test_ids_listed_together_name_one_model() -> None:
    catalog = Catalog(load_catalog())
    for group in _expected()["groups"]:
        specs = {catalog.resolve(name).id for name in group}
        assert len(specs) == 1, group
        (canonical,) = specs
        spec = catalog.resolve(canonical)
        assert set(group) <= {spec.id, *spec.aliases}


def test_models_endpoint_lists_every_seed_id(server: Server) -> None:
    r = httpx2.get(f"{server.url}/models", timeout=30)
    assert r.status_code == 200
    items = r.json()
    named: dict[str, dict[str, Any]] = {}
    for item in items:
        for name in (item["id"], *item["aliases"]):
            assert name not in named, name
            named[name] = item
    expected = _expected()
    assert set(expected["active"]) <= set(named)
    assert set(expected["deprecated"]) <= set(named)
    for name in expected["deprecated"]:
        assert named[name]["deprecated"] is True
        assert named[name]["available"] is False
    for name in expected["active"]:
        assert named[name]["deprecated"] is False
    for group in expected["groups"]:
        assert len({named[name]["id"] for name in group}) == 1, group
