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

    [responses]                         # stored responses of /v1/responses: ResponsesSettings
    retention_s = 2592000               # UNIGATE_RESPONSES_RETENTION_S (30 days)
    lease_s = 60.0                      # UNIGATE_RESPONSES_LEASE_S: a dead process's background ones end after it

    [cache]                             # the response cache of chat requests: settings/cache.py
    ttl_s = 3600.0                      # UNIGATE_CACHE_<FIELD>; scope = "account", hit_billing = "free"

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

Secrets have no table: they come from the environment only (``UNIGATE_MANAGEMENT_KEY``,
``UNIGATE_MEDIA_SECRET``, ``UNIGATE_WEBHOOK_SECRET``, the providers' keys).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal, cast, get_args

import platformdirs

from unigate.settings.cache import CacheSettings, cache_settings
from unigate.settings.sections import (
    EmbeddingModelSettings,
    JobsSettings,
    LocalModelSettings,
    LocalSpeechSettings,
    MediaSettings,
    ResponsesSettings,
    flag,
    jobs_settings,
    media_settings,
    responses_settings,
    speech_settings,
)
from unigate.settings.tracing import TracingSettings, tracing_settings

__all__ = [
    "CacheSettings",
    "EmbeddingModelSettings",
    "JobsSettings",
    "LocalModelSettings",
    "LocalSpeechSettings",
    "MediaSettings",
    "ResponsesSettings",
    "Settings",
    "TracingSettings",
    "UpstreamTransport",
    "load_settings",
]

UpstreamTransport = Literal["auto", "h1", "proxy"]
"""How upstream APIs are reached: ``h1`` (direct, keep-alive HTTP/1.1), ``proxy`` (aiohttp through
``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY``, except ``NO_PROXY`` hosts), ``auto`` (``proxy`` when
one of those is set, else ``h1``)."""


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
    jobs: JobsSettings = field(default_factory=JobsSettings)
    responses: ResponsesSettings = field(default_factory=ResponsesSettings)
    cache: CacheSettings = field(default_factory=CacheSettings)
    tracing: TracingSettings = field(default_factory=TracingSettings)
    """OpenTelemetry traces, from the ``OTEL_*`` variables (``settings/tracing.py``); off by default."""
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

    webhook_secret: str | None = field(default=None, repr=False)
    """``UNIGATE_WEBHOOK_SECRET`` (32+ characters; the environment only, like every secret): the
    key that signs job webhooks, which their receivers verify with it (``docs/webhooks.md``); the
    same on every replica. Unset, one is generated at the first start and kept in
    ``<data_dir>/webhook-secret`` (``providers/webhook_signing.py`` says why not another default)."""

    @property
    def uses_postgres(self) -> bool:
        return (self.database_url or "").startswith(("postgresql://", "postgres://"))

    def sqlite_path(self) -> Path:
        url = self.database_url or f"sqlite:///{self.data_dir / 'unigate.db'}"
        if not url.startswith("sqlite:///"):
            raise ValueError(f"unsupported database URL {url!r}: expected sqlite:///PATH or postgresql://...")
        return Path(url.removeprefix("sqlite:///"))


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
        local = replace(local, enabled=flag(env["UNIGATE_LOCAL_MODEL"]))

    embeddings_raw = raw.get("embeddings", {})
    unknown = set(embeddings_raw) - {f.name for f in fields(EmbeddingModelSettings)}
    if unknown:
        raise ValueError(f"unknown [embeddings] settings: {', '.join(sorted(unknown))}")
    embeddings = EmbeddingModelSettings(**embeddings_raw)
    if embeddings.model_dir is not None:
        embeddings = replace(embeddings, model_dir=Path(embeddings.model_dir))
    if "UNIGATE_EMBEDDING_MODEL" in env:
        embeddings = replace(embeddings, enabled=flag(env["UNIGATE_EMBEDDING_MODEL"]))

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
    if env.get("UNIGATE_WEBHOOK_SECRET"):
        settings = replace(settings, webhook_secret=_webhook_secret(env["UNIGATE_WEBHOOK_SECRET"]))
    if "UNIGATE_FAKE_MODELS" in env:
        settings = replace(settings, fake_models=flag(env["UNIGATE_FAKE_MODELS"]))
    switches: dict[str, Any] = {}
    for name in ("console", "metrics", "log_prompts"):
        var = f"UNIGATE_{name.upper()}"
        if var in env or name in server:
            switches[name] = flag(env[var]) if var in env else bool(server[name])
    settings = replace(settings, **switches)
    if raw.get("providers"):
        settings = replace(settings, providers={k: dict(v) for k, v in raw["providers"].items()})
    settings = replace(settings, provider_env=_provider_env(env, settings.providers))
    if raw.get("models"):
        settings = replace(settings, models={k: dict(v) for k, v in raw["models"].items()})
    if raw.get("routing"):
        settings = replace(settings, routing=dict(raw["routing"]))
    settings = _upstream_settings(settings, upstream=raw.get("upstream", {}), env=env)
    settings = replace(settings, media=media_settings(raw.get("media", {}), env))
    settings = replace(settings, speech=speech_settings(raw.get("speech", {}), env))
    settings = replace(settings, jobs=jobs_settings(raw.get("jobs", {}), env))
    settings = replace(settings, responses=responses_settings(raw.get("responses", {}), env))
    settings = replace(settings, cache=cache_settings(raw.get("cache", {}), env))
    settings = replace(settings, tracing=tracing_settings(env))
    return _accounts_settings(settings, storage=storage, limits=limits, billing=billing, env=env)


def _webhook_secret(value: str) -> str:
    if len(value) < 32:
        raise ValueError(
            "UNIGATE_WEBHOOK_SECRET must be at least 32 characters "
            "(for instance: python -c 'import secrets; print(secrets.token_hex(32))')"
        )
    return value


PROVIDER_SUFFIXES = ("_API_KEY", "_BASE_URL", "_API_SECRET", "_ACCESS_KEY", "_SECRET_KEY")
"""The endings of the variables providers read: ``<NAME>_API_KEY`` and ``<NAME>_BASE_URL``, and the
names some providers give their credentials (``RUNWAYML_API_SECRET``; Kling's
``KLING_ACCESS_KEY`` and ``KLING_SECRET_KEY``)."""
PROVIDER_NAMES = frozenset({"FAL_KEY"})
"""Variables providers read that no ending names (fal's own name for its key)."""


def _provider_env(env: Mapping[str, str], tables: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """The variables of ``Settings.provider_env``: a provider whose variables follow another
    pattern adds it here."""
    named: set[str] = set()
    for table in tables.values():
        entries = table.get("deployments")
        if isinstance(entries, list):  # its shape is checked with the rest of the table (providers/config.py)
            named.update(str(e["api_key_env"]) for e in entries if isinstance(e, Mapping) and "api_key_env" in e)
    named |= PROVIDER_NAMES
    return {k: v for k, v in env.items() if k.endswith(PROVIDER_SUFFIXES) or k in named}


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
    via = flag(env[var]) if var in env else bool(upstream.get("fetch_via_proxy", settings.fetch_via_proxy))
    proxies = {k: v for k, v in env.items() if k.upper() in _PROXY_VARIABLES}
    return replace(settings, upstream_transport=transport, fetch_via_proxy=via, proxy_env=proxies)


_PROXY_VARIABLES = frozenset({"HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY"})
