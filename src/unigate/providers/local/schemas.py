"""The JSON schemas a request brings to the local model: its ``response_format`` schema and its
tools' parameters, checked as valid JSON Schema up front and used to validate what the model
generated (a grammar constrains the output, and the validator confirms it).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from typing import Any

from jsonschema import Draft202012Validator, SchemaError

from unigate.core.chat import ChatRequest, FunctionTool, JsonObjectFormat, JsonSchemaFormat
from unigate.errors import InvalidRequest

__all__ = [
    "SCHEMA_PARAM",
    "ContentCheck",
    "content_check",
    "content_schema",
    "parameters",
    "tool_schemas",
    "valid_arguments",
    "validator",
]

SCHEMA_PARAM = "response_format.json_schema.schema"
_NO_PARAMETERS: dict[str, Any] = {"type": "object", "properties": {}, "additionalProperties": False}
"""OpenAI: omitting ``parameters`` defines a function that takes no arguments."""

ContentCheck = Callable[[str], bool]


def content_schema(request: ChatRequest) -> Any:
    """The schema the reply's content must follow (``None``: free text); raises for an invalid one."""
    rf = request.response_format
    if isinstance(rf, JsonSchemaFormat):
        schema = rf.schema if rf.schema is not None else {"type": "object"}
        validator(json.dumps(schema), param=SCHEMA_PARAM)
        return schema
    if isinstance(rf, JsonObjectFormat):
        return {"type": "object"}
    return None


def content_check(request: ChatRequest) -> ContentCheck | None:
    """Whether a finished reply's text is JSON that the content schema accepts."""
    schema = content_schema(request)
    if schema is None:
        return None
    checker = validator(json.dumps(schema), param=SCHEMA_PARAM)

    def check(text: str) -> bool:
        try:
            return bool(checker.is_valid(json.loads(text)))
        except ValueError:
            return False

    return check


@functools.lru_cache(maxsize=256)
def _cached_validator(schema_text: str) -> Draft202012Validator:
    schema = json.loads(schema_text)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def validator(schema_text: str, *, param: str) -> Draft202012Validator:
    """A validator of the schema given as JSON text (cached by it); an invalid schema is the
    client's error, named by ``param``."""
    try:
        return _cached_validator(schema_text)
    except SchemaError as exc:
        raise InvalidRequest(f"Invalid JSON schema: {exc.message}", param=param) from None


def parameters(tool: FunctionTool) -> dict[str, Any]:
    return tool.parameters if tool.parameters is not None else _NO_PARAMETERS


def tool_schemas(tools: Sequence[FunctionTool]) -> list[tuple[str, Any]]:
    """``(name, parameters schema)`` pairs, as ``grammar.grammar_for`` takes them."""
    return [(t.name, parameters(t)) for t in tools]


def valid_arguments(text: str, tool: FunctionTool) -> bool:
    """Whether ``text`` is a JSON object that ``tool``'s parameters accept."""
    try:
        arguments = json.loads(text)
    except ValueError:
        return False
    return isinstance(arguments, dict) and bool(Draft202012Validator(parameters(tool)).is_valid(arguments))
