from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import services
from tests.job_emulator import seedance  # noqa: F401  (a fixture: ModelArk's video tasks, emulated)
from tests.media_emulator import emulated  # noqa: F401  (a fixture: OpenAI's media API, emulated)
from tests.serving import Server, fake_settings


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """A gateway serving only the deterministic fake model, on SQLite in a temporary folder."""
    running = Server(fake_settings(tmp_path, management_key="mk-test")).start()
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def _services_gate(request: pytest.FixtureRequest) -> None:
    """Tests marked ``services`` skip when PostgreSQL or Redis is missing, and fail instead when
    ``UNIGATE_REQUIRE_SERVICES=1`` (CI), so that they cannot pass there by not running."""
    if request.node.get_closest_marker("services") is not None:
        require_services()


def require_services() -> None:
    """Skip (or, with ``UNIGATE_REQUIRE_SERVICES=1``, fail) unless PostgreSQL and Redis answer."""
    missing = services.missing_services()
    if missing is None:
        return
    if os.environ.get("UNIGATE_REQUIRE_SERVICES") == "1":
        pytest.fail(f"UNIGATE_REQUIRE_SERVICES=1 but {missing}")
    pytest.skip(missing)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL database URL whose ``search_path`` is a fresh schema, dropped afterwards."""
    base = services.postgres_url()
    assert base is not None, "mark the test 'services'"
    schema, url = services.new_schema(base)
    yield url
    services.drop_schema(base, schema)


@pytest.fixture
def redis_url() -> str:
    url = services.redis_url()
    assert url is not None, "mark the test 'services'"
    return url


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A Redis key prefix of this test's own; its keys are deleted afterwards."""
    prefix = f"unigate-test-{secrets.token_hex(4)}:"
    yield prefix
    services.drop_redis_keys(redis_url, prefix)
