"""``pip install .`` alone, into a fresh virtual environment, gives the gateway ``make serve`` gives:
the embedded chat model and the embedded embedding model answer, with no script and no torch.

About 90 seconds once pip's cache holds the llama-cpp-python wheel (``make test`` built it first).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import numpy as np
import pytest

from tests.cli.test_serve_and_keys import free_port

pytestmark = [pytest.mark.install, pytest.mark.timeout(1500)]

ROOT = Path(__file__).resolve().parents[2]


def _env(data_dir: Path) -> dict[str, str]:
    """The caller's environment without this checkout on the path and without our settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UNIGATE_", "PYTHON", "VIRTUAL_ENV"))}
    return env | {"UNIGATE_DATA_DIR": str(data_dir)}


def _run(args: list[str], env: dict[str, str], timeout: float) -> str:
    # Run from the data folder's parent: ``python -c`` puts its working directory on sys.path.
    cwd = Path(env["UNIGATE_DATA_DIR"]).parent
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout, cwd=cwd)
    assert done.returncode == 0, f"{args} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def test_a_fresh_venv_with_pip_install_serves_chat_and_embeddings(tmp_path: Path) -> None:
    env = _env(tmp_path / "data")
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], env, 120)
    python, unigate = str(venv / "bin/python"), str(venv / "bin/unigate")
    # llama-cpp-python from the wheel scripts/install.sh built for this machine's kind (pip's own
    # cache may hold a build for the exact CPU, which a virtual machine can trap); without it, a
    # first build of about 7 minutes.
    kept = ROOT / ".venv" / "llama-wheels"
    wheels = ["--find-links", kept.read_text().strip()] if kept.exists() else []
    _run([python, "-m", "pip", "install", "--quiet", *wheels, str(ROOT)], env, 1200)
    _run([python, "-m", "pip", "check"], env, 120)

    where = _run([python, "-c", _WHERE], env, 60).split()
    site = str(venv / "lib")
    assert where[0].startswith(site), where  # the installed copy, not this checkout
    assert where[1].startswith(site), where  # the weights shipped in the wheel
    assert where[1].endswith("all-MiniLM-L6-v2"), where
    assert where[2] == "no-torch", where

    key = _run([unigate, "keys", "create", "--credits", "1000000"], env, 120).strip()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        proc = subprocess.Popen([unigate, "serve", "--port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_healthy(url, proc, log)
        with httpx2.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=120) as client:
            chat = client.post(
                "/v1/chat/completions",
                json={
                    "model": "HuggingFaceTB/SmolLM2-135M-Instruct",
                    "messages": [{"role": "user", "content": "Say hello."}],
                    "max_tokens": 8,
                    "temperature": 0,
                },
            )
            assert chat.status_code == 200, chat.text
            answer = chat.json()
            assert answer["choices"][0]["message"]["content"].strip(), answer
            assert answer["usage"]["completion_tokens"] > 0, answer

            texts = ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]
            embedded = client.post("/v1/embeddings", json={"model": "all-minilm-l6-v2", "input": texts})
            assert embedded.status_code == 200, embedded.text
            vectors = np.array([row["embedding"] for row in embedded.json()["data"]])
        # sentence-transformers' published similarities for these three (tests/providers/test_minilm.py).
        expected = np.array([[1.0, 0.6660, 0.1046], [0.6660, 1.0, 0.1411], [0.1046, 0.1411, 1.0]])
        assert vectors.shape == (3, 384)
        np.testing.assert_allclose(vectors @ vectors.T, expected, atol=6e-4)
    finally:
        proc.terminate()
        proc.wait(timeout=60)


_WHERE = """
import importlib.util, unigate
from unigate.providers.embeddings.minilm import default_model_dir
print(unigate.__file__, default_model_dir(), "torch" if importlib.util.find_spec("torch") else "no-torch")
"""


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"unigate serve exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx2.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx2.TransportError:
            time.sleep(0.2)
    pytest.fail(f"unigate serve did not come up:\n{log.read_text()[-3000:]}")
