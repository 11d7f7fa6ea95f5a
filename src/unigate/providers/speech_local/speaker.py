"""``LocalSpeaker``: text to speech with Piper and the shipped ``en_US-joe-medium`` voice.

Piper reads the whole text into phonemes (espeak-ng, milliseconds), then runs its ONNX network
once per sentence; each sentence's audio is encoded (``providers/audio/encode.py``) and sent on
as soon as it exists, so a client hears the first sentence while the next ones are computed.
``speak`` returns once the first chunk is ready; closing the chunks stops the synthesis at the
next sentence. Synthesis and encoding run on the lane's worker thread (``lane.py``); onnxruntime
releases the GIL while the network runs.

Choices where OpenAI's API asks for more than one voice can give:

- ``voice``: there is one. ``None``, its own name (``en_US-joe-medium``, ``joe``) and OpenAI's
  voice names (``alloy``, ``echo``... which the SDKs send by default) all speak with it; any
  other name is a 400 listing these.
- ``speed`` (0.25 to 4, OpenAI's range) divides the voice's ``length_scale``.
- ``instructions`` (tone, emotion) are refused: Piper has no way to follow them; so is any other
  field (``options``: the model has no reference schema to have vetted them at the edge).
- ``response_format``: ``wav`` and ``pcm`` always; ``mp3``, ``opus``, ``aac``, ``flac`` when
  this installation's PyAV carries their encoder (its wheels do). One it cannot make is refused
  in ``check_speech``, before any credit is reserved, rather than answered in another format than
  the one the client will save it as.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from functools import partial
from typing import TYPE_CHECKING

import numpy as np

from unigate.catalog.spec import ModelSpec
from unigate.core.media import SPEECH_FORMATS, SpeechAudio, SpeechRequest
from unigate.errors import InvalidRequest, UnsupportedParameter, UpstreamError
from unigate.providers.audio.encode import FORMATS, encodable, encoder
from unigate.providers.speech_local.lane import DONE, Lane, Ticket
from unigate.providers.speech_local.weights import VoiceFiles, voice_files

if TYPE_CHECKING:
    from piper import PiperVoice

__all__ = ["MAX_CHARACTERS", "OPENAI_VOICES", "VOICE", "LocalSpeaker"]

VOICE = "en_US-joe-medium"
OPENAI_VOICES = frozenset(
    {"alloy", "ash", "ballad", "cedar", "coral", "echo", "fable", "marin", "nova", "onyx", "sage", "shimmer", "verse"}
)
"""The voice names of OpenAI's speech API: spoken with the one voice there is."""
_VOICES = frozenset({VOICE.lower(), "joe"}) | OPENAI_VOICES
MAX_CHARACTERS = 4096
"""OpenAI's limit on ``input``."""
SPEEDS = (0.25, 4.0)


class LocalSpeaker:
    """The ``Speaker`` of the embedded voice; see the module."""

    def __init__(
        self,
        *,
        voice: VoiceFiles | None = None,
        threads: int | None = None,
        max_queue: int = 16,
        max_wait_s: float = 60.0,
        preload: bool = False,
        name: str = "local-speech",
    ) -> None:
        self.name = name
        self._voice = voice
        self._threads = threads
        self._preload = preload
        self._lane: Lane[PiperVoice] = Lane(
            "local text-to-speech model", thread="unigate-tts", max_queue=max_queue, max_wait_s=max_wait_s
        )

    async def start(self) -> None:
        files = self._voice or voice_files()
        self._voice = files
        loading = self._lane.start(partial(_load, files, self._threads), eager=self._preload)
        if loading is not None:
            await asyncio.wrap_future(loading)

    async def close(self) -> None:
        await self._lane.close()

    def check_speech(self, request: SpeechRequest, model: ModelSpec) -> None:
        if not request.text.strip():
            raise InvalidRequest("The input is empty: there is nothing to speak.", param="input")
        if len(request.text) > MAX_CHARACTERS:
            raise InvalidRequest(
                f"The input is {len(request.text)} characters; {model.id!r} speaks at most {MAX_CHARACTERS}.",
                param="input",
            )
        if request.voice is not None and request.voice.lower() not in _VOICES:
            raise InvalidRequest(
                f"{model.id!r} has one voice, {VOICE!r}; voice may be that, 'joe', one of OpenAI's voice names "
                f"(spoken with it: {', '.join(sorted(OPENAI_VOICES))}) or left out, not {request.voice!r}.",
                param="voice",
            )
        if request.speed is not None and not SPEEDS[0] <= request.speed <= SPEEDS[1]:
            raise InvalidRequest(f"speed must be from {SPEEDS[0]} to {SPEEDS[1]}.", param="speed")
        if request.instructions:
            raise UnsupportedParameter(
                f"{model.id!r} cannot follow instructions (tone, emotion); leave them out.", param="instructions"
            )
        if request.options:
            name = min(request.options)
            raise UnsupportedParameter(f"{model.id!r} does not take {name!r}.", param=name)
        if request.format not in encodable():
            known = "this server's PyAV lacks its encoder" if request.format in FORMATS else "unknown format"
            raise InvalidRequest(
                f"response_format {request.format!r} is not available ({known}); "
                f"use one of {', '.join(sorted(encodable()))}.",
                param="response_format",
            )

    async def speak(self, request: SpeechRequest, model: ModelSpec) -> SpeechAudio:
        self.check_speech(request, model)
        ticket = self._lane.submit(
            partial(self._synthesize, text=request.text, format=request.format, speed=request.speed or 1.0)
        )
        try:
            first = await ticket.next()
        except BaseException:
            ticket.cancel()
            raise
        if first is DONE:  # the worker posts audio or an error; never nothing, unless a codec fails silently
            raise UpstreamError(f"{model.id!r} made no audio for this input.")
        assert isinstance(first, bytes)
        return SpeechAudio(SPEECH_FORMATS[request.format], _Chunks(ticket, first), request.format)

    def _synthesize(self, ticket: Ticket, *, text: str, format: str, speed: float) -> None:
        """On the worker thread: each sentence's audio, encoded, posted as it is made."""
        from piper import SynthesisConfig

        voice = self._lane.model()
        config = SynthesisConfig(length_scale=voice.config.length_scale / speed)
        stream = encoder(format, voice.config.sample_rate)
        spoken = 0
        try:
            for sentence in voice.synthesize(text, config):
                if ticket.cancelled.is_set():
                    return
                spoken += 1
                data = stream.feed(np.asarray(sentence.audio_int16_array, dtype=np.int16))
                if data:
                    ticket.post(data)
            if not spoken:  # punctuation alone: espeak-ng finds no phoneme
                raise InvalidRequest("The input has no words to speak.", param="input")
            if ticket.cancelled.is_set():
                return
            data = stream.finish()
            if data:
                ticket.post(data)
        finally:
            stream.close()


class _Chunks(AsyncIterator[bytes]):
    """The audio as the worker posts it. ``aclose`` (or an error, or the end) stops the synthesis,
    even before the first chunk was read, which an async generator's ``finally`` would not see."""

    def __init__(self, ticket: Ticket, first: bytes) -> None:
        self._ticket = ticket
        self._first: bytes | None = first
        self._done = False

    async def __anext__(self) -> bytes:
        if self._first is not None:
            first, self._first = self._first, None
            return first
        if self._done:
            raise StopAsyncIteration
        try:
            item = await self._ticket.next()
        except BaseException:
            await self.aclose()
            raise
        if item is DONE:
            await self.aclose()
            raise StopAsyncIteration
        assert isinstance(item, bytes)
        return item

    async def aclose(self) -> None:
        self._done, self._first = True, None
        self._ticket.cancel()


def _load(files: VoiceFiles, threads: int | None) -> PiperVoice:
    """The voice, with onnxruntime's CPU provider on ``threads`` threads (its default: one per core)."""
    import onnxruntime
    from piper import PiperConfig, PiperVoice

    options = onnxruntime.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(str(files.model), sess_options=options, providers=["CPUExecutionProvider"])
    config = PiperConfig.from_dict(json.loads(files.config.read_text(encoding="utf-8")))
    return PiperVoice(session=session, config=config)
