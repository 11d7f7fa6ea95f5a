"""The store and the accounts settings chosen from the configuration."""

from __future__ import annotations

from pathlib import Path

from unigate.settings import load_settings
from unigate.storage.factory import store_for
from unigate.storage.postgres.store import PostgresStore
from unigate.storage.sqlite.store import SqliteStore


def test_sqlite_by_default_postgres_when_the_url_says_so(tmp_path: Path) -> None:
    default = load_settings(env={"UNIGATE_DATA_DIR": str(tmp_path)})
    assert isinstance(store_for(default), SqliteStore)
    assert default.sqlite_path() == tmp_path / "unigate.db"
    for url in ("postgresql://u@db:5432/x", "postgres://u@db/x?search_path=t"):
        settings = load_settings(env={"UNIGATE_DATABASE_URL": url, "UNIGATE_DATABASE_POOL_SIZE": "4"})
        assert settings.uses_postgres
        assert isinstance(store_for(settings), PostgresStore)


def test_accounts_settings_from_toml_and_environment(tmp_path: Path) -> None:
    config = tmp_path / "unigate.toml"
    config.write_text(
        "[storage]\n"
        'redis_url = "redis://toml:6379/0"\n'
        "pool_size = 3\n"
        "[limits]\n"
        "default_rpm = 60\n"
        "key_cache_ttl_s = 5.0\n"
        "[billing]\n"
        "reservation_ttl_s = 30\n"
        "low_balance_threshold = 1\n"
    )
    settings = load_settings(config, env={"UNIGATE_DEFAULT_TPM": "1000", "UNIGATE_REDIS_URL": "redis://env:6379/1"})
    assert settings.redis_url == "redis://env:6379/1"  # the environment wins
    assert (settings.database_pool_size, settings.default_rpm, settings.default_tpm) == (3, 60, 1000)
    assert (settings.key_cache_ttl_s, settings.reservation_ttl_s, settings.low_balance_threshold) == (5.0, 30.0, 1)
    bare = load_settings(env={"UNIGATE_FAKE_TOKEN_DELAY_S": "0.5"})
    assert (bare.redis_url, bare.default_rpm, bare.default_tpm, bare.fake_token_delay_s) == (None, None, None, 0.5)
