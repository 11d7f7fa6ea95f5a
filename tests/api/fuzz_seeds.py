"""Valid bodies of every body-taking route (by handler), the starting points of the fuzz test's
mutations; each must succeed as it is (the test checks), or its mutations would start from a 400.

A route of the router that is missing here is fuzzed all the same, with other routes' shapes and
any JSON; this table only lets the mutations reach past its validators.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from tests.api.fuzzing import PNG, WAV, Body, Encoding
from unigate.api.admin.accounts import AddCredits
from unigate.api.admin.keys_schema import CreateKeyRequest, UpdateKeyRequest
from unigate.api.anthropic.schema import MessagesRequest
from unigate.api.openai.chat.schema import ChatCompletionRequest
from unigate.api.openai.completions.schema import CompletionsRequest
from unigate.api.openai.embeddings.schema import EmbeddingsRequest
from unigate.api.openai.responses.schema import ResponsesRequest
from unigate.catalog.builtin import FAKE_MODEL_ID, LOCAL_EMBEDDING_MODEL_ID

SCHEMAS: list[type[BaseModel]] = [
    ChatCompletionRequest,
    MessagesRequest,
    ResponsesRequest,
    CompletionsRequest,
    EmbeddingsRequest,
    CreateKeyRequest,
    UpdateKeyRequest,
    AddCredits,
]
"""The pydantic wire schemas, whose names and enums feed the generator."""

USER = {"role": "user", "content": "one two"}
TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}
CLAUDE_TOOL = {"name": "f", "input_schema": {"type": "object"}}
TOOL_USE = {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {"a": 1}}]}
TOOL_RESULT = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}]}
WAV_URI = "data:audio/wav;base64," + base64.b64encode(WAV).decode()
PNG_URI = "data:image/png;base64," + base64.b64encode(PNG).decode()
PDF_URI = "data:application/pdf;base64,JVBERi0xLjQK"


@dataclass(frozen=True)
class Context:
    """What valid bodies name: the key to spend from in console calls, the console's tokens."""

    key_prefix: str
    csrf: str
    login_token: str
    management_key: str


def _json(*bodies: dict[str, Any]) -> list[Body]:
    return [Body("json", b) for b in bodies]


def _form(*bodies: dict[str, Any]) -> list[Body]:
    return [Body("form", b) for b in bodies]


def _multipart(fields: dict[str, Any], **files: tuple[str, bytes, str]) -> Body:
    return Body("multipart", fields, tuple(files.items()))


def seeds(ctx: Context) -> dict[str, list[Body]]:
    """Valid bodies by handler (``module.name``); aliases of a route share its handler."""
    wav = ("a.wav", WAV, "audio/wav")
    chat = {"model": FAKE_MODEL_ID, "messages": [USER], "max_tokens": 4}
    csrf = {"csrf_token": ctx.csrf}
    return {
        "unigate.api.openai.chat.handler.chat_completions": _json(
            chat,
            {"model": FAKE_MODEL_ID, "messages": [USER], "stream": True, "stream_options": {"include_usage": True}},
            {"model": FAKE_MODEL_ID, "messages": [USER], "tools": [TOOL], "tool_choice": "required"},
            {"model": FAKE_MODEL_ID, "messages": [USER], "response_format": {"type": "json_object"}},
            {"model": FAKE_MODEL_ID, "messages": [USER], "thinking": {"type": "disabled"}, "stop_sequences": ["x"]},
            {"model": FAKE_MODEL_ID, "system": "s", "messages": [USER, TOOL_USE, TOOL_RESULT], "tools": [CLAUDE_TOOL]},
        ),
        "unigate.api.anthropic.messages.messages": _json(
            {"model": FAKE_MODEL_ID, "max_tokens": 8, "messages": [USER]},
            {
                "model": FAKE_MODEL_ID,
                "max_tokens": 8,
                "messages": [USER, TOOL_USE, TOOL_RESULT],
                "tools": [CLAUDE_TOOL],
            },
            {
                "model": FAKE_MODEL_ID,
                "max_tokens": 8,
                "messages": [USER],
                "stream": True,
                "system": [{"type": "text", "text": "s"}],
            },
        ),
        "unigate.api.openai.responses.handler.responses": _json(
            {"model": FAKE_MODEL_ID, "input": "one two"},
            {"model": FAKE_MODEL_ID, "input": [{"role": "user", "content": [{"type": "input_text", "text": "hi"}]}]},
            {"model": FAKE_MODEL_ID, "input": "x", "stream": True, "instructions": "be terse"},
        ),
        "unigate.api.openai.completions.handler.completions": _json(
            {"model": FAKE_MODEL_ID, "prompt": "one two", "max_tokens": 4},
            {"model": FAKE_MODEL_ID, "prompt": ["a", "b"]},
        ),
        "unigate.api.openai.embeddings.handler.embeddings": _json(
            {"model": LOCAL_EMBEDDING_MODEL_ID, "input": "x"}, {"model": LOCAL_EMBEDDING_MODEL_ID, "input": [[1, 2]]}
        ),
        # Media: images, speech, transcription, OCR.
        "unigate.api.jobs.routes.images_or_3d": [
            *_json({"model": "fake/image", "prompt": "a cat", "n": 2}, {"model": "fake/3d", "prompt": "a cup"}),
            _multipart({"model": "fake/image", "prompt": "a cat", "response_format": "b64_json"}),
        ],
        "unigate.api.media.images.image_edits": [
            _multipart({"model": "fake/image", "prompt": "blue", "n": "2"}, image=("in.png", PNG, "image/png")),
        ],
        "unigate.api.media.speech.tts": _json({"model": "fake/speech", "text": "hi there", "voice": "x"}),
        "unigate.api.media.speech.audio_speech": _json({"model": "fake/speech", "input": "hi", "voice": "alloy"}),
        "unigate.api.media.transcription.audio_transcriptions": [
            _multipart({"model": "fake/transcribe", "response_format": "verbose_json"}, file=wav),
        ],
        "unigate.api.media.transcription.audio_translations": [_multipart({"model": "fake/transcribe"}, file=wav)],
        "unigate.api.media.transcription.stt_create": [
            _multipart({"model": "fake/transcribe"}, audio=wav),
            *_json({"model": "fake/transcribe", "url": WAV_URI}),
        ],
        "unigate.api.media.transcription.stt_legacy": _json({"model": "fake/transcribe", "url": WAV_URI}),
        "unigate.api.media.ocr.ocr": _json(
            {"model": "fake/ocr", "document": {"type": "document_url", "document_url": PDF_URI}, "pages": [0, 3]},
            {"model": "fake/ocr", "document": {"type": "image_url", "image_url": PNG_URI}},
        ),
        # Generation jobs.
        "unigate.api.jobs.service.create_video": _json({"model": "fake/video", "prompt": "a cat", "duration": 5}),
        "unigate.api.jobs.service.create_music": _json({"model": "fake/music", "prompt": "a song"}),
        "unigate.api.jobs.three_d.generate_3d": _json({"model": "fake/3d", "prompt": "a cup"}),
        "unigate.api.jobs.openai_videos.create_video": [
            *_json({"model": "fake/video", "prompt": "a cat", "seconds": "4", "size": "1280x720"}),
            _multipart({"model": "fake/video", "prompt": "a cat"}, input_reference=("in.png", PNG, "image/png")),
        ],
        # Management.
        "unigate.api.admin.keys.create_key": _json(
            {"name": "k", "credits": 5, "scopes": ["model:chat"]}, {"rate_limit": {"rpm": 5}}
        ),
        "unigate.api.admin.keys.update_key": _json({"scopes": ["model:chat"]}, {"name": "n", "limit": None}),
        "unigate.api.admin.accounts.add_credits": _json({"credits": 5}),
        # The console: forms with the session's CSRF token, and its JSON calls.
        "unigate.console.signin.login_submit": _form(
            {"login_token": ctx.login_token, "key": ctx.management_key, "next": "/console/keys"}
        ),
        "unigate.console.signin.logout": _form(csrf),
        "unigate.console.playground.chat": _json({**chat, "key": ctx.key_prefix}),
        "unigate.console.speech.speech": _json({"model": "fake/speech", "text": "hi", "key": ctx.key_prefix}),
        "unigate.console.speech.transcribe": [
            _multipart({"model": "fake/transcribe", "key": ctx.key_prefix}, file=wav)
        ],
        "unigate.console.keys.create_key": _form({**csrf, "name": "x", "credits_usd": "1", "scope": "model:chat"}),
        "unigate.console.keys.set_key_state": _form({**csrf, "disabled": "0"}),
        "unigate.console.keys.set_key_limits": _form({**csrf, "name": "n", "rpm": "50", "limit_usd": "2"}),
        "unigate.console.keys.delete_key": _form(csrf),
        "unigate.console.keys.add_credits": _form({**csrf, "credits_usd": "1"}),
    }


SHAPES: dict[str, list[Body]] = {
    "unigate.api.jobs.minimax_legacy.minimax_upload": [
        _multipart({"purpose": "song"}, file=("a.wav", WAV, "audio/wav"))
    ],
    "unigate.api.jobs.minimax_legacy.minimax_generate": [
        Body("json", {"model": "music-01", "lyrics": "la la", "refer_voice": "voice-1"}),
        _multipart({"lyrics": "la la", "refer_instrumental": "i-1", "audio_setting": '{"format": "mp3"}'}),
    ],
}
"""Well-formed bodies of the routes whose model no fake provider serves (MiniMax's ``music-01``):
mutated like the valid ones, but they end in a 503 naming the missing provider."""

ENCODINGS: dict[str, tuple[Encoding, ...]] = {
    "unigate.console.signin.login_submit": ("form",),
    "unigate.console.signin.logout": ("form",),
    "unigate.console.keys.create_key": ("form",),
    "unigate.console.keys.set_key_state": ("form",),
    "unigate.console.keys.set_key_limits": ("form",),
    "unigate.console.keys.delete_key": ("form",),
    "unigate.console.keys.add_credits": ("form",),
}
"""How a route reads its body when not JSON alone: the console's forms (URL-encoded), and the
routes that read a multipart form or JSON (``read_form``) take both."""

MULTIPART = (
    "unigate.api.jobs.routes.images_or_3d",
    "unigate.api.media.images.image_edits",
    "unigate.api.media.transcription.audio_transcriptions",
    "unigate.api.media.transcription.audio_translations",
    "unigate.api.media.transcription.stt_create",
    "unigate.api.media.transcription.stt_legacy",
    "unigate.api.jobs.minimax_legacy.minimax_upload",
    "unigate.api.jobs.minimax_legacy.minimax_generate",
    "unigate.api.jobs.openai_videos.create_video",
    "unigate.console.speech.transcribe",
)
ENCODINGS |= {name: ("json", "multipart") for name in MULTIPART}
