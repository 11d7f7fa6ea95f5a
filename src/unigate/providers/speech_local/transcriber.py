"""``LocalTranscriber``: speech to text with faster-whisper and the shipped Whisper tiny.en.

The client's file is decoded (``providers/audio/decode.py``: any container FFmpeg reads) to
16 kHz mono on the lane's worker thread, then transcribed there; faster-whisper yields one
segment per decoded window, and a cancelled request stops at the next one. CTranslate2 releases
the GIL while the network runs.

How OpenAI's fields map:

- ``language``: the model knows English only, so ``en`` (or ``en-US``, ``english``) or nothing;
  another is a 400. ``task="translate"`` (``/v1/audio/translations``) is a 400 too: an
  English-only model cannot translate.
- ``prompt`` is Whisper's ``initial_prompt``; ``temperature`` 0 or unset keeps Whisper's fallback
  schedule (0, 0.2, ... 1.0, retried while a window decodes badly, as OpenAI documents for 0);
  another value is used alone. The service's own endpoints may send it among the ``options``;
  any other option is a 400 naming it (the model has no reference schema to vet them at the edge).
- Segments always carry ``avg_logprob`` and ``no_speech_prob``; words (with their probability as
  ``confidence``) are computed only when ``timestamps`` asks for them, since the alignment pass
  costs time.
"""

from __future__ import annotations

import asyncio
import math
import os
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from unigate.catalog.spec import ModelSpec
from unigate.core.media import Segment, Transcript, TranscriptionRequest, Word
from unigate.errors import InvalidRequest, UnsupportedParameter
from unigate.providers.audio.decode import decode_mono
from unigate.providers.speech_local.lane import Lane, Ticket
from unigate.providers.speech_local.weights import whisper_dir

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

__all__ = ["LocalTranscriber"]

SAMPLE_RATE = 16_000
_ENGLISH = frozenset({"en", "english"})


class LocalTranscriber:
    """The ``Transcriber`` of the embedded Whisper model; see the module."""

    def __init__(
        self,
        *,
        model_dir: Path | None = None,
        threads: int | None = None,
        max_queue: int = 16,
        max_wait_s: float = 60.0,
        beam_size: int = 5,
        preload: bool = False,
        name: str = "local-speech",
    ) -> None:
        self.name = name
        self._model_dir = model_dir
        self._threads = threads
        self._beam_size = beam_size
        self._preload = preload
        self._lane: Lane[WhisperModel] = Lane(
            "local speech-to-text model", thread="unigate-stt", max_queue=max_queue, max_wait_s=max_wait_s
        )

    async def start(self) -> None:
        directory = self._model_dir or whisper_dir()
        self._model_dir = directory
        loading = self._lane.start(partial(_load, directory, self._threads), eager=self._preload)
        if loading is not None:
            await asyncio.wrap_future(loading)

    async def close(self) -> None:
        await self._lane.close()

    def check_transcription(self, request: TranscriptionRequest, model: ModelSpec) -> None:
        if request.task == "translate":
            raise InvalidRequest(
                f"{model.id!r} knows English only and cannot translate; use /v1/audio/transcriptions for English "
                "audio, or a multilingual model to translate.",
                param="model",
            )
        if request.language is not None and request.language.lower().split("-")[0] not in _ENGLISH:
            raise InvalidRequest(
                f"{model.id!r} transcribes English only; language may be 'en' or left out, not {request.language!r}.",
                param="language",
            )
        unknown = set(request.options) - {"temperature"}
        if unknown:
            name = min(unknown)
            raise UnsupportedParameter(f"{model.id!r} does not take {name!r}.", param=name)
        _temperature(request)

    async def transcribe(self, request: TranscriptionRequest, model: ModelSpec) -> Transcript:
        self.check_transcription(request, model)
        ticket = self._lane.submit(partial(self._transcribe, request=request))
        try:
            result = await ticket.next()
        finally:
            ticket.cancel()  # a no-op once the job is done; stops it if this await was cancelled
        assert isinstance(result, Transcript)
        return result

    def _transcribe(self, ticket: Ticket, *, request: TranscriptionRequest) -> None:
        """On the worker thread: decode, transcribe window by window, post the transcript."""
        whisper = self._lane.model()
        audio = decode_mono(request.audio, SAMPLE_RATE)
        words = "word" in request.timestamps
        options: dict[str, Any] = {}
        temperature = _temperature(request)
        if temperature:  # 0 or unset: faster-whisper's fallback schedule
            options["temperature"] = temperature
        pieces, info = whisper.transcribe(
            audio,
            language="en",
            task="transcribe",
            beam_size=self._beam_size,
            initial_prompt=request.prompt or None,
            word_timestamps=words,
            **options,
        )
        segments: list[Segment] = []
        for index, piece in enumerate(pieces):
            if ticket.cancelled.is_set():
                return
            segments.append(
                Segment(
                    id=index,
                    start=float(piece.start),
                    end=float(piece.end),
                    text=piece.text,
                    avg_logprob=float(piece.avg_logprob),
                    no_speech_prob=float(piece.no_speech_prob),
                    words=tuple(
                        Word(w.word.strip(), float(w.start), float(w.end), confidence=float(w.probability))
                        for w in piece.words or ()
                    ),
                )
            )
        ticket.post(
            Transcript(
                text="".join(s.text for s in segments).strip(),
                language="en",
                duration_s=float(info.duration),
                segments=tuple(segments),
                words=tuple(w for s in segments for w in s.words),
            )
        )


def _temperature(request: TranscriptionRequest) -> float | None:
    """The field, or the service's option (its forms send it as text); ``InvalidRequest`` unless
    it is a number from 0 to 1."""
    given = request.temperature if request.temperature is not None else request.options.get("temperature")
    if given is None:
        return None
    try:
        value = math.nan if isinstance(given, bool) else float(given)
    except (TypeError, ValueError):
        value = math.nan
    if not 0 <= value <= 1:  # NaN too
        raise InvalidRequest("temperature must be a number from 0 to 1.", param="temperature")
    return value


def _load(directory: Path, threads: int | None) -> WhisperModel:
    """The model from its folder, int8 on the CPU (the CTranslate2 weights are float16; int8 is
    faster there and what faster-whisper recommends for CPUs)."""
    # A guard: the folder holds every file faster-whisper reads (weights.WHISPER_FILES), so it
    # never turns to the Hugging Face Hub; should a future version try, it fails instead of
    # downloading (huggingface_hub reads this when first imported).
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from faster_whisper import WhisperModel

    return WhisperModel(
        str(directory),
        device="cpu",
        compute_type="int8",
        cpu_threads=threads or (os.cpu_count() or 1),
        local_files_only=True,
    )
