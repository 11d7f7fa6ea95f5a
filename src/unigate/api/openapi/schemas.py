"""The document's ``components.schemas``: the request bodies, generated from the pydantic models the
handlers validate with (so the document cannot drift from them), and the answers' shapes.

The answers are rendered from dicts (``api/*/render.py``), not from models, so their schemas are
written here: each names the fields every answer of its kind carries and leaves room for the rest
(a schema that allows more properties, as JSON Schema does by default); the schemathesis run
(``tests/api/test_openapi.py``) checks every answer against them.

A media or job body is checked per model against the service's documented fields
(``catalog/fields.py``, ``data/media_requests.json``: ~200 models); one ``oneOf`` of all of them would
make the document several megabytes, so the body is described generically: ``model`` plus the
fields, with the model's own ones pointed to.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from unigate.api.admin.accounts import AddCredits
from unigate.api.admin.keys_schema import CreateKeyRequest, UpdateKeyRequest
from unigate.api.anthropic.schema import MessagesRequest
from unigate.api.openai.chat.schema import ChatCompletionRequest
from unigate.api.openai.completions.schema import CompletionsRequest
from unigate.api.openai.embeddings.schema import EmbeddingsRequest
from unigate.api.openai.responses.schema import ResponsesRequest

__all__ = ["REQUEST_MODELS", "components", "ref"]

REQUEST_MODELS: tuple[type[BaseModel], ...] = (
    ChatCompletionRequest,
    CompletionsRequest,
    ResponsesRequest,
    EmbeddingsRequest,
    MessagesRequest,
    CreateKeyRequest,
    UpdateKeyRequest,
    AddCredits,
)


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


_NULLABLE_STR: dict[str, Any] = {"type": ["string", "null"]}
_OBJECT: dict[str, Any] = {"type": "object"}

_ANSWERS: dict[str, dict[str, Any]] = {
    "Error": {
        "type": "object",
        "description": "Every error of the OpenAI-compatible surface (``errors.py``: each class knows its status).",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["message", "type"],
                "properties": {
                    "message": {"type": "string"},
                    "type": {"type": "string"},
                    "param": _NULLABLE_STR,
                    "code": _NULLABLE_STR,
                },
            }
        },
    },
    "AnthropicError": {
        "type": "object",
        "description": "Errors under ``/v1/messages``, in Anthropic's shape.",
        "required": ["type", "error"],
        "properties": {
            "type": {"const": "error"},
            "error": {
                "type": "object",
                "required": ["type", "message"],
                "properties": {"type": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
    "ChatCompletion": {
        "type": "object",
        "required": ["id", "object", "created", "model", "choices"],
        "properties": {
            "id": {"type": "string"},
            "object": {"const": "chat.completion"},
            "created": {"type": "integer"},
            "model": {"type": "string"},
            "choices": {"type": "array", "items": _OBJECT},
            "usage": _OBJECT,
            "meta": {"type": "object", "description": "unigate extension: ``meta.usage``, the credits charged."},
        },
    },
    "TextCompletion": {
        "type": "object",
        "required": ["id", "object", "created", "model", "choices"],
        "properties": {
            "id": {"type": "string"},
            "object": {"const": "text_completion"},
            "created": {"type": "integer"},
            "model": {"type": "string"},
            "choices": {"type": "array", "items": _OBJECT},
        },
    },
    "EmbeddingList": {
        "type": "object",
        "required": ["object", "data", "model"],
        "properties": {
            "object": {"const": "list"},
            "model": {"type": "string"},
            "data": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["object", "embedding", "index"],
                    "properties": {
                        "object": {"const": "embedding"},
                        "embedding": {
                            "description": "Floats, or base64 of little-endian float32 with encoding_format=base64.",
                            "oneOf": [{"type": "array", "items": {"type": "number"}}, {"type": "string"}],
                        },
                        "index": {"type": "integer"},
                    },
                },
            },
        },
    },
    "Message": {
        "type": "object",
        "required": ["id", "type", "role", "content", "model"],
        "properties": {
            "id": {"type": "string"},
            "type": {"const": "message"},
            "role": {"const": "assistant"},
            "content": {"type": "array", "items": _OBJECT},
            "model": {"type": "string"},
            "stop_reason": _NULLABLE_STR,
            "usage": _OBJECT,
        },
    },
    "MessageTokensCount": {
        "type": "object",
        "required": ["input_tokens"],
        "properties": {"input_tokens": {"type": "integer", "minimum": 0}},
    },
    "Response": {
        "type": "object",
        "required": ["id", "object", "status"],
        "properties": {
            "id": {"type": "string"},
            "object": {"const": "response"},
            "status": {"type": "string"},
            "model": {"type": "string"},
            "output": {"type": "array", "items": _OBJECT},
        },
    },
    "List": {
        "type": "object",
        "description": "An OpenAI-style list.",
        "required": ["object", "data"],
        "properties": {"object": {"const": "list"}, "data": {"type": "array", "items": _OBJECT}},
    },
    "ModelCatalog": {
        "type": "array",
        "description": "The catalog's models, each with its prices and capabilities.",
        "items": _OBJECT,
    },
    "Object": {"type": "object", "description": "A JSON object; the operation's description says what it holds."},
    "MediaRequest": {
        "type": "object",
        "description": (
            "``model`` and that model's documented fields (``prompt``, ``size``, ``voice``, ``input``, ... as the "
            "service's reference gives them for the model; the gateway checks them per model and answers 400 "
            "naming a field that breaks them)."
        ),
        "required": ["model"],
        "properties": {"model": {"type": "string", "description": "A media model's id or alias (GET /v1/models)."}},
        "additionalProperties": True,
    },
    "MultipartMediaRequest": {
        "type": "object",
        "description": "As MediaRequest, as form fields, with the uploaded files (image, mask, file) as parts.",
        "required": ["model"],
        "properties": {
            "model": {"type": "string"},
            "file": {"type": "string", "contentMediaType": "application/octet-stream"},
        },
        "additionalProperties": True,
    },
}


@cache
def components() -> dict[str, dict[str, Any]]:
    """Every schema the operations refer to, the request models' ``$defs`` flattened beside them."""
    _, top = models_json_schema(
        [(model, "validation") for model in REQUEST_MODELS], ref_template="#/components/schemas/{model}"
    )
    schemas: dict[str, dict[str, Any]] = dict(top.get("$defs", {}))
    schemas.update(_ANSWERS)
    return schemas
