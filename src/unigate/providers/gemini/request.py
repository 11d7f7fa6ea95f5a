"""The canonical chat request as Gemini's ``GenerateContentRequest``.

``system``/``developer`` messages become ``systemInstruction``; ``user``/``assistant`` become
``contents`` of role ``user``/``model`` (consecutive turns of one role merged); ``data:`` images
and files become ``inlineData``; http(s) image URLs have been fetched by then (``provider.py``) and
become ``inlineData`` too, since ``fileData`` takes only files uploaded to Google, whose URIs
(``FILES_URI``) are passed on as ``fileData``; assistant ``tool_calls`` become ``functionCall``
parts and ``tool`` messages ``functionResponse`` parts, named after the call they answer (a
JSON-object result is sent as the response, anything else as ``{"output": text}``, as the API
reference suggests). Tools are declared with ``parametersJsonSchema`` (plain JSON Schema),
structured output with ``responseJsonSchema``.

``reasoning_effort`` sets ``thinkingConfig`` with ``includeThoughts``: on Gemini 1.x/2.x a
``thinkingBudget`` of 1024 / 8192 / 24576 tokens (low / medium / high, the budgets Google's own
OpenAI-compatible endpoint uses), on later models the ``thinkingLevel`` of the same name.
Without it the model thinks as it likes and thoughts are not returned.

``thoughtSignature``s of function call parts are kept on this server under the tool call ids
(``replay.py``) and sent back on the same parts, as Gemini 3 requires; when one is unknown there
(another process, a restart) the first call of that turn carries Google's documented
``skip_thought_signature_validator`` instead (Gemini 3 and later only).
"""

from __future__ import annotations

from typing import Any

import orjson

from unigate.catalog.spec import ModelSpec
from unigate.core.chat import (
    ChatRequest,
    ContentPart,
    FilePart,
    ImagePart,
    JsonObjectFormat,
    JsonSchemaFormat,
    Message,
    NamedToolChoice,
    TextPart,
)
from unigate.errors import InvalidRequest, UnsupportedContent, UnsupportedParameter
from unigate.providers.media import Inline, file_source, image_source
from unigate.providers.replay import ReplayCache
from unigate.providers.wire import arguments_object

__all__ = ["FILES_URI", "SKIP_SIGNATURE", "THINKING_BUDGETS", "request_body"]

FILES_URI = "https://generativelanguage.googleapis.com/v1beta/files/"
"""Files uploaded through Gemini's Files API: the only http(s) URLs ``fileData`` takes."""
THINKING_BUDGETS = {"low": 1024, "medium": 8192, "high": 24576}
SKIP_SIGNATURE = "skip_thought_signature_validator"
"""https://ai.google.dev/gemini-api/docs/thought-signatures (FAQ): for function calls that have
no signature of their own."""


def _legacy(model: ModelSpec) -> bool:
    """Gemini 1.x and 2.x: thinking budgets, and no thought signature validation."""
    return model.upstream_model.removeprefix("models/").startswith(("gemini-1", "gemini-2"))


def _refuse_unsupported(request: ChatRequest) -> None:
    s = request.sampling
    unsupported = {
        "logit_bias": s.logit_bias is not None,
        "min_p": s.min_p is not None,
        "repetition_penalty": s.repetition_penalty is not None,
        "parallel_tool_calls": request.parallel_tool_calls is False,
    }
    for param, used in unsupported.items():
        if used:
            raise UnsupportedParameter(f"Gemini models do not support {param}.", param=param)


def _user_part(part: ContentPart, param: str) -> dict[str, Any] | None:
    if isinstance(part, TextPart):
        return {"text": part.text} if part.text else None
    if isinstance(part, ImagePart):
        source = image_source(part, param)
        if isinstance(source, Inline):
            return {"inlineData": {"mimeType": source.media_type, "data": source.data}}
        data = {"mimeType": source.media_type, "fileUri": source.url} if source.media_type else {"fileUri": source.url}
        return {"fileData": data}
    if isinstance(part, FilePart):
        inline = file_source(part, param)
        return {"inlineData": {"mimeType": inline.media_type, "data": inline.data}}
    raise UnsupportedContent("Unsupported content part.", param=param)


def _function_response(text: str) -> dict[str, Any]:
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return {"output": text}
    return value if isinstance(value, dict) else {"output": value}


def _contents(
    messages: tuple[Message, ...], replay: ReplayCache[str], *, sentinel: bool
) -> tuple[list[str], list[dict[str, Any]]]:
    system: list[str] = []
    contents: list[dict[str, Any]] = []
    names: dict[str, str] = {}
    for i, m in enumerate(messages):
        parts: list[dict[str, Any]] = []
        if m.role in ("system", "developer"):
            system.append(m.text())
            continue
        if m.role == "assistant":
            role = "model"
            if m.text():
                parts.append({"text": m.text()})
            for k, call in enumerate(m.tool_calls):
                names[call.id] = call.name
                args = arguments_object(call.arguments, param=f"messages[{i}].tool_calls[{k}].function.arguments")
                part: dict[str, Any] = {"functionCall": {"name": call.name, "args": args}}
                signature = replay.get(call.id) or (SKIP_SIGNATURE if k == 0 and sentinel else None)
                if signature:
                    part["thoughtSignature"] = signature
                parts.append(part)
        elif m.role == "tool":
            role = "user"
            name = names.get(m.tool_call_id or "")
            if name is None:
                raise InvalidRequest(
                    "tool_call_id matches no tool call of an earlier assistant message.",
                    param=f"messages[{i}].tool_call_id",
                )
            parts.append({"functionResponse": {"name": name, "response": _function_response(m.text())}})
        else:
            role = "user"
            for j, p in enumerate(m.content):
                converted = _user_part(p, f"messages[{i}].content[{j}]")
                if converted is not None:
                    parts.append(converted)
        if contents and contents[-1]["role"] == role:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": role, "parts": parts})
    return system, contents


def _generation_config(request: ChatRequest, model: ModelSpec) -> dict[str, Any]:
    s = request.sampling
    values: dict[str, Any] = {
        "stopSequences": list(s.stop) or None,
        "candidateCount": request.n if request.n != 1 else None,
        "maxOutputTokens": request.max_tokens,
        "temperature": s.temperature,
        "topP": s.top_p,
        "topK": s.top_k,
        "seed": s.seed,
        "presencePenalty": s.presence_penalty,
        "frequencyPenalty": s.frequency_penalty,
        "responseLogprobs": True if request.logprobs else None,
        "logprobs": request.top_logprobs if request.logprobs else None,
    }
    config = {k: v for k, v in values.items() if v is not None}
    fmt = request.response_format
    if isinstance(fmt, JsonObjectFormat | JsonSchemaFormat):
        config["responseMimeType"] = "application/json"
    if isinstance(fmt, JsonSchemaFormat) and fmt.schema is not None:
        config["responseJsonSchema"] = fmt.schema
    effort = request.effort_for(model.params)
    if effort is not None:
        level: dict[str, Any] = (
            {"thinkingBudget": THINKING_BUDGETS[effort]} if _legacy(model) else {"thinkingLevel": effort}
        )
        config["thinkingConfig"] = {"includeThoughts": True, **level}
    return config


def _tool_config(request: ChatRequest) -> dict[str, Any] | None:
    choice = request.tool_choice
    if choice is None:
        return None
    if isinstance(choice, NamedToolChoice):
        return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [choice.name]}}
    return {"functionCallingConfig": {"mode": {"auto": "AUTO", "required": "ANY", "none": "NONE"}[choice]}}


def request_body(request: ChatRequest, model: ModelSpec, *, replay: ReplayCache[str] | None = None) -> dict[str, Any]:
    """The ``GenerateContentRequest`` (the model and streaming are in the URL)."""
    _refuse_unsupported(request)
    cache = replay if replay is not None else ReplayCache[str]()
    system, contents = _contents(request.messages, cache, sentinel=not _legacy(model))
    body: dict[str, Any] = {"contents": contents}
    if system:
        body["systemInstruction"] = {"parts": [{"text": "\n\n".join(system)}]}
    if request.tools:
        declarations = []
        for t in request.tools:
            declaration: dict[str, Any] = {"name": t.name}
            if t.description:
                declaration["description"] = t.description
            if t.parameters is not None:
                declaration["parametersJsonSchema"] = t.parameters
            declarations.append(declaration)
        body["tools"] = [{"functionDeclarations": declarations}]
        tool_config = _tool_config(request)
        if tool_config is not None:
            body["toolConfig"] = tool_config
    config = _generation_config(request, model)
    if config:
        body["generationConfig"] = config
    return body
