"""What the service's model catalogue says of each model beyond its identity: its input and output
modalities, its capabilities and its tags (``GET /models``' and ``GET /v1/models``' ``include``
sections and filters, ``api/catalog/``).

All of it is read from what the catalog already declares: the model's type, its chat features and
content kinds (``input_modalities``), and the request fields the service documents for media
models (``fields.py``): a video model whose request takes ``image_url`` turns an image into video.
The names follow the service's examples (``image_to_video``, ``text_to_video``,
``audio_generation``); the others are ours, in the same form.
"""

from __future__ import annotations

from unigate.catalog.fields import request_schema
from unigate.catalog.spec import ModelSpec

__all__ = ["capabilities", "input_modalities", "output_modalities", "tags"]

_OUTPUT = {
    "chat-completion": "text",
    "embedding": "embedding",
    "image": "image",
    "video": "video",
    "tts": "audio",
    "voice-chat": "audio",
    "stt": "text",
    "music": "audio",
    "ocr": "text",
    "3d": "3d",
}

_IMAGE_FIELDS = frozenset({"image", "image_url", "image_urls", "first_frame_image", "reference_images"})
_VIDEO_FIELDS = frozenset({"video_url", "video"})
_AUDIO_FIELDS = frozenset({"audio_url", "audio"})

_FEATURES = {
    "openai/chat-completion.function": "function_calling",
    "openai/chat-completion.reasoning": "reasoning",
    "openai/chat-completion.response-format": "structured_output",
    "openai/chat-completion.stream": "streaming",
    "openai/response-api": "responses_api",
}
"""Chat features (the seeds' ``features``) that name a capability."""


def _fields(spec: ModelSpec) -> frozenset[str]:
    """The documented request fields of a media model, its edit request's included."""
    found: set[str] = set()
    for edit in (False, True):
        schema = request_schema(spec, edit=edit)
        if schema is not None:
            found.update(schema.fields)
    return frozenset(found)


def input_modalities(spec: ModelSpec) -> tuple[str, ...]:
    if spec.type == "chat-completion":
        return tuple(sorted(spec.input_modalities))
    if spec.type in ("stt",):
        return ("audio",)
    if spec.type in ("ocr",):
        return ("file", "image")
    fields = _fields(spec)
    found = {"text"} if spec.type != "3d" else set()
    if fields & _IMAGE_FIELDS or spec.type == "3d":
        found.add("image")
    if spec.type == "video" and fields & _VIDEO_FIELDS:
        found.add("video")
    if spec.type == "video" and fields & _AUDIO_FIELDS:
        found.add("audio")
    return tuple(sorted(found))


def output_modalities(spec: ModelSpec) -> tuple[str, ...]:
    return (_OUTPUT.get(spec.type, "text"),)


def capabilities(spec: ModelSpec) -> tuple[str, ...]:
    kind, inputs = spec.type, set(input_modalities(spec))
    found: set[str] = set()
    if kind == "chat-completion":
        found.add("chat")
        found.update(_FEATURES[f] for f in spec.features if f in _FEATURES)
        if "image" in inputs:
            found.add("vision")
        if "file" in inputs:
            found.add("file_input")
    elif kind == "embedding":
        found.add("embeddings")
    elif kind in ("image", "video"):
        if "text" in inputs:
            found.add(f"text_to_{kind}")
        if "image" in inputs:
            found.add(f"image_to_{kind}")
        if "video" in inputs:
            found.add("video_to_video")
        if kind == "video" and "generate_audio" in _fields(spec):
            found.add("audio_generation")
    elif kind in ("tts", "voice-chat"):
        found.add("text_to_speech")
    elif kind == "stt":
        found.add("speech_to_text")
    elif kind == "music":
        found.update(("music_generation", "audio_generation"))
    elif kind == "ocr":
        found.add("ocr")
    elif kind == "3d":
        found.add("image_to_3d")
    return tuple(sorted(found))


def tags(spec: ModelSpec) -> tuple[str, ...]:
    """Free-form tags in the service's ``name:value`` form: the model's type, its provider, and
    whether upstream retired it."""
    out = [f"type:{spec.type}", f"provider:{spec.provider}"]
    if spec.deprecated:
        out.append("deprecated")
    return tuple(out)
