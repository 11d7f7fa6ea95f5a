"""Google's Gemini API, natively: ``models/{model}:generateContent`` and
``:streamGenerateContent?alt=sse`` (https://ai.google.dev/api/generate-content).

Translation, request side: ``system``/``developer`` messages become ``systemInstruction``;
``user``/``assistant`` become ``contents`` of role ``user``/``model`` (consecutive turns of one
role merged); ``data:`` images and files become ``inlineData``; http(s) image URLs are fetched
by the gateway (``fetch.py``: public addresses only, size, time and type limits; a failure is a 400
naming the content part) and sent as ``inlineData`` too, since ``fileData`` takes only files
uploaded to Google, whose URIs (``FILES_URI``) are passed on as ``fileData``;
assistant ``tool_calls`` become ``functionCall`` parts and ``tool`` messages ``functionResponse``
parts, named after the call they answer (a JSON-object result is sent as the response, anything
else as ``{"output": text}``, as the API reference suggests). Tools are declared with
``parametersJsonSchema`` (plain JSON Schema), structured output with ``responseJsonSchema``.

``reasoning_effort`` sets ``thinkingConfig`` with ``includeThoughts``: on Gemini 1.x/2.x a
``thinkingBudget`` of 1024 / 8192 / 24576 tokens (low / medium / high, the budgets Google's own
OpenAI-compatible endpoint uses), on later models the ``thinkingLevel`` of the same name.
Without it the model thinks as it likes and thoughts are not returned.

Thought parts (``thought: true``) become ``Choice.reasoning``. ``thoughtSignature``s of function
call parts are kept on this server under the tool call ids (``replay.py``) and sent back on the
same parts, as Gemini 3 requires; when one is unknown there (another process, a restart) the
first call of that turn carries Google's documented ``skip_thought_signature_validator`` instead
(Gemini 3 and later only). Signatures on text parts are optional for the API and are dropped.

Usage: ``completion_tokens`` = ``candidatesTokenCount`` + ``thoughtsTokenCount`` (OpenAI counts
reasoning in completion tokens, and Gemini bills thoughts as output); ``reasoning_tokens`` =
``thoughtsTokenCount``; ``prompt_tokens`` includes ``toolUsePromptTokenCount``; ``cached_tokens``
= ``cachedContentTokenCount``; ``total_tokens`` as reported. A prompt blocked by
``promptFeedback.blockReason`` answers every choice empty with ``finish_reason: content_filter``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import replace
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
    ToolCall,
)
from unigate.core.results import (
    ChatResult,
    Choice,
    ChoiceDelta,
    FinishReason,
    StreamEvent,
    StreamStart,
    TokenLogprob,
    ToolCallDelta,
    TopLogprob,
    Usage,
)
from unigate.errors import InvalidRequest, UnsupportedContent, UnsupportedParameter, UpstreamError
from unigate.primitives.ids import hex_id
from unigate.providers.config import ProviderConfig
from unigate.providers.estimate import estimated_usage, generated_bytes, prompt_tokens_upper_bound
from unigate.providers.fetch import Fetcher, FetchError
from unigate.providers.http import Upstream, UpstreamFailure
from unigate.providers.media import Inline, file_source, image_source
from unigate.providers.replay import ReplayCache
from unigate.providers.sse import marked

__all__ = [
    "FILES_URI",
    "FINISH_REASONS",
    "SKIP_SIGNATURE",
    "THINKING_BUDGETS",
    "GeminiProvider",
    "StreamDecoder",
    "parse_error",
    "parse_response",
    "request_body",
]

FINISH_REASONS: dict[str, FinishReason] = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
    "IMAGE_PROHIBITED_CONTENT": "content_filter",
    "IMAGE_RECITATION": "content_filter",
    "LANGUAGE": "unknown",
    "OTHER": "unknown",
    "MALFORMED_FUNCTION_CALL": "unknown",
    "UNEXPECTED_TOOL_CALL": "unknown",
    "TOO_MANY_TOOL_CALLS": "unknown",
    "MISSING_THOUGHT_SIGNATURE": "unknown",
    "FINISH_REASON_UNSPECIFIED": "unknown",
}
"""Every other value also becomes ``"unknown"``; ``STOP`` with a function call is ``tool_calls``."""

FILES_URI = "https://generativelanguage.googleapis.com/v1beta/files/"
"""Files uploaded through Gemini's Files API: the only http(s) URLs ``fileData`` takes."""
THINKING_BUDGETS = {"low": 1024, "medium": 8192, "high": 24576}
SKIP_SIGNATURE = "skip_thought_signature_validator"
"""https://ai.google.dev/gemini-api/docs/thought-signatures (FAQ): for function calls that have
no signature of their own."""
AUTH_REASONS = frozenset({"API_KEY_INVALID", "API_KEY_EXPIRED", "API_KEY_SERVICE_BLOCKED"})
STATUS_OF = {"UNAUTHENTICATED": 401, "PERMISSION_DENIED": 403, "RESOURCE_EXHAUSTED": 429, "UNAVAILABLE": 503}


def _legacy(model: ModelSpec) -> bool:
    """Gemini 1.x and 2.x: thinking budgets, and no thought signature validation."""
    return model.upstream_model.removeprefix("models/").startswith(("gemini-1", "gemini-2"))


# ---- request -----------------------------------------------------------------------------------


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


def _args(arguments: str, param: str) -> Any:
    try:
        value = orjson.loads(arguments or "{}")
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest("Tool call arguments must be a JSON object.", param=param) from exc
    if not isinstance(value, dict):
        raise InvalidRequest("Tool call arguments must be a JSON object.", param=param)
    return value


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
                args = _args(call.arguments, f"messages[{i}].tool_calls[{k}].function.arguments")
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
    effort = request.reasoning_effort
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


# ---- response ----------------------------------------------------------------------------------


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _usage(raw: Any) -> Usage:
    raw = raw if isinstance(raw, dict) else {}
    thoughts = _int(raw.get("thoughtsTokenCount"))
    total = raw.get("totalTokenCount")
    return Usage(
        prompt_tokens=_int(raw.get("promptTokenCount")) + _int(raw.get("toolUsePromptTokenCount")),
        completion_tokens=_int(raw.get("candidatesTokenCount")) + thoughts,
        total_tokens=total if isinstance(total, int) else None,
        reasoning_tokens=thoughts,
        cached_tokens=_int(raw.get("cachedContentTokenCount")),
    )


def _finish(value: Any, *, called: bool) -> FinishReason:
    reason = FINISH_REASONS.get(str(value), "unknown")
    return "tool_calls" if reason == "stop" and called else reason


def _tool_call(part: dict[str, Any]) -> ToolCall:
    call = part["functionCall"]
    call_id = call.get("id") or "call_" + hex_id(12)
    return ToolCall(str(call_id), str(call.get("name", "")), orjson.dumps(call.get("args") or {}).decode())


def _logprobs(raw: Any) -> tuple[TokenLogprob, ...] | None:
    if not isinstance(raw, dict):
        return None
    tops = raw.get("topCandidates") or []
    out = []
    for i, chosen in enumerate(raw.get("chosenCandidates") or ()):
        token = str(chosen.get("token", ""))
        alternatives = tops[i].get("candidates", []) if i < len(tops) else []
        out.append(
            TokenLogprob(
                token,
                float(chosen.get("logProbability", 0.0)),
                tuple(token.encode()),
                tuple(
                    TopLogprob(
                        str(a.get("token", "")),
                        float(a.get("logProbability", 0.0)),
                        tuple(str(a.get("token", "")).encode()),
                    )
                    for a in alternatives
                ),
            )
        )
    return tuple(out)


def _blocked(data: dict[str, Any]) -> bool:
    return bool((data.get("promptFeedback") or {}).get("blockReason")) and not data.get("candidates")


def parse_response(data: Any, *, n: int = 1) -> tuple[ChatResult, dict[str, str]]:
    """A ``GenerateContentResponse`` as the canonical result, and the thought signatures of its
    function calls by tool call id."""
    if not isinstance(data, dict):
        raise UpstreamError("The gemini provider answered with an unexpected body.")
    signatures: dict[str, str] = {}
    choices: list[Choice] = []
    for candidate in data.get("candidates") or ():
        texts: list[str] = []
        thoughts: list[str] = []
        calls: list[ToolCall] = []
        for part in (candidate.get("content") or {}).get("parts") or ():
            if "functionCall" in part:
                calls.append(_tool_call(part))
                if part.get("thoughtSignature"):
                    signatures[calls[-1].id] = str(part["thoughtSignature"])
            elif part.get("thought"):
                thoughts.append(str(part.get("text", "")))
            elif "text" in part:
                texts.append(str(part["text"]))
        choices.append(
            Choice(
                index=_int(candidate.get("index")),
                content="".join(texts) if texts or not calls else None,
                finish_reason=_finish(candidate.get("finishReason"), called=bool(calls)),
                tool_calls=tuple(calls),
                reasoning="".join(thoughts) if thoughts else None,
                logprobs=_logprobs(candidate.get("logprobsResult")),
            )
        )
    if not choices and _blocked(data):
        choices = [Choice(i, None, "content_filter") for i in range(n)]
    if not choices:
        raise UpstreamError("The gemini provider answered without candidates.")
    result = ChatResult(
        model=str(data.get("modelVersion") or ""), choices=choices, usage=_usage(data.get("usageMetadata"))
    )
    return result, signatures


class StreamDecoder:
    """Streamed ``GenerateContentResponse`` chunks to canonical events."""

    def __init__(self, *, n: int, fallback_model: str) -> None:
        self.n = n
        self.fallback_model = fallback_model
        self.started = False
        self.seen: set[int] = set()
        self.finished: set[int] = set()
        self.usage: Usage | None = None
        self.generated = 0
        """UTF-8 bytes generated, for an estimate if no chunk reports usage."""
        self.signatures: dict[str, str] = {}
        self._calls: dict[int, int] = {}

    def feed(self, data: dict[str, Any]) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        if not self.started:
            self.started = True
            events.append(StreamStart(str(data.get("modelVersion") or self.fallback_model)))
        if data.get("usageMetadata"):
            self.usage = _usage(data["usageMetadata"])
        if _blocked(data):
            for i in range(self.n):
                if i not in self.finished:
                    self.seen.add(i)
                    self.finished.add(i)
                    events.append(ChoiceDelta(i, finish_reason="content_filter"))
        for candidate in data.get("candidates") or ():
            index = _int(candidate.get("index"))
            if index in self.finished:
                continue
            self.seen.add(index)
            for part in (candidate.get("content") or {}).get("parts") or ():
                event = self._part(index, part)
                if event is not None:
                    events.append(event)
                    for text in (event.content, event.reasoning, *(c.arguments for c in event.tool_calls)):
                        self.generated += len(text.encode()) if text else 0
            logprobs = _logprobs(candidate.get("logprobsResult"))
            if logprobs:
                events.append(ChoiceDelta(index, logprobs=logprobs))
            if candidate.get("finishReason"):
                self.finished.add(index)
                reason = _finish(candidate["finishReason"], called=index in self._calls)
                events.append(ChoiceDelta(index, finish_reason=reason))
        return events

    def _part(self, index: int, part: dict[str, Any]) -> ChoiceDelta | None:
        if "functionCall" in part:
            call = _tool_call(part)
            if part.get("thoughtSignature"):
                self.signatures[call.id] = str(part["thoughtSignature"])
            position = self._calls.get(index, 0)
            self._calls[index] = position + 1
            return ChoiceDelta(index, tool_calls=(ToolCallDelta(position, call.id, call.name, call.arguments),))
        text = part.get("text")
        if not text:
            return None  # e.g. an empty part that only carries a thoughtSignature
        if part.get("thought"):
            return ChoiceDelta(index, reasoning=str(text))
        return ChoiceDelta(index, content=str(text))

    def complete(self) -> bool:
        return bool(self.finished) and self.seen <= self.finished


def parse_error(body: bytes) -> UpstreamFailure:
    """``{"error": {"code", "message", "status", "details"}}`` (google.rpc.Status). A wrong key is
    a 400 ``API_KEY_INVALID`` there: it counts as the 401 it is."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return UpstreamFailure(body.decode(errors="replace").strip()[:200] or None)
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(data, list) and data and isinstance(data[0], dict):
        error = data[0].get("error")  # streamGenerateContent without alt=sse wraps it in a list
    if not isinstance(error, dict):
        return UpstreamFailure(None)
    details = [d for d in error.get("details") or () if isinstance(d, dict)]
    status = STATUS_OF.get(str(error.get("status")))
    if any(d.get("reason") in AUTH_REASONS for d in details):
        status = 401
    code = error.get("code")
    if status is None and isinstance(code, int) and 400 <= code <= 599:
        status = code
    retry = next((str(d["retryDelay"]) for d in details if d.get("retryDelay")), None)
    return UpstreamFailure(message=error.get("message"), status=status, retry_after=retry)


# ---- provider ----------------------------------------------------------------------------------


def _remote_images(request: ChatRequest) -> list[tuple[str, str]]:
    """The http(s) image URLs the gateway must fetch for Gemini, with their params."""
    out = []
    for i, m in enumerate(request.messages):
        for j, p in enumerate(m.content):
            remote = isinstance(p, ImagePart) and p.url.lower().startswith(("http://", "https://"))
            if remote and isinstance(p, ImagePart) and not p.url.startswith(FILES_URI):
                out.append((p.url, f"messages[{i}].content[{j}]"))
    return out


def _fetch_failed(exc: FetchError, param: str) -> InvalidRequest:
    return InvalidRequest(
        f"The image URL at {param} cannot be used: {exc.message}.", param=param, code="invalid_image_url"
    )


class GeminiProvider:
    def __init__(
        self,
        config: ProviderConfig,
        *,
        replay: ReplayCache[str] | None = None,
        fetcher: Fetcher | None = None,
    ) -> None:
        self.name = config.name
        self.config = config
        self.upstream = Upstream(config, parse_error=parse_error)
        self.replay: ReplayCache[str] = replay if replay is not None else ReplayCache()
        self.fetcher = fetcher or Fetcher()

    async def start(self) -> None:
        await self.upstream.start()
        await self.fetcher.start()

    async def close(self) -> None:
        await self.fetcher.close()
        await self.upstream.close()

    def check(self, request: ChatRequest, model: ModelSpec) -> None:
        request_body(request, model, replay=self.replay)
        for url, param in _remote_images(request):
            try:
                self.fetcher.vet(url)  # a refused address fails before any credit is reserved
            except FetchError as exc:
                raise _fetch_failed(exc, param) from exc

    async def _fetch_images(self, request: ChatRequest) -> ChatRequest:
        """``request`` with its remote image URLs replaced by the fetched bytes, as data: URIs."""
        fetched: dict[str, str] = {}
        for url, param in _remote_images(request):
            if url not in fetched:
                try:
                    fetched[url] = (await self.fetcher.fetch(url)).data_uri()
                except FetchError as exc:
                    raise _fetch_failed(exc, param) from exc
        if not fetched:
            return request
        messages = tuple(
            replace(
                m,
                content=tuple(
                    ImagePart(fetched[p.url], p.detail) if isinstance(p, ImagePart) and p.url in fetched else p
                    for p in m.content
                ),
            )
            for m in request.messages
        )
        return replace(request, messages=messages)

    def estimate_prompt_tokens(self, request: ChatRequest, model: ModelSpec) -> int:
        return prompt_tokens_upper_bound(request)

    def _url(self, model: ModelSpec, method: str) -> str:
        name = model.upstream_model.removeprefix("models/")
        return f"{self.config.base_url}/v1beta/models/{name}:{method}"

    def _headers(self) -> dict[str, str]:
        return {"x-goog-api-key": self.config.api_key or ""}

    def _remember(self, signatures: dict[str, str]) -> None:
        for call_id, signature in signatures.items():
            self.replay.put(call_id, signature)

    async def complete(self, request: ChatRequest, model: ModelSpec) -> ChatResult:
        body = request_body(await self._fetch_images(request), model, replay=self.replay)
        data = await self.upstream.post_json(self._url(model, "generateContent"), headers=self._headers(), body=body)
        result, signatures = parse_response(data, n=request.n)
        result.model = result.model or model.upstream_model
        if not isinstance(data.get("usageMetadata"), dict):
            result.usage = estimated_usage(request, generated_bytes(result))
        self._remember(signatures)
        return result

    async def stream(self, request: ChatRequest, model: ModelSpec) -> AsyncIterator[StreamEvent]:
        body = request_body(await self._fetch_images(request), model, replay=self.replay)
        url = self._url(model, "streamGenerateContent") + "?alt=sse"
        decoder = StreamDecoder(n=request.n, fallback_model=model.upstream_model)
        async with aclosing(self.upstream.sse(url, headers=self._headers(), body=body)) as events:
            async for event in events:
                try:
                    data = orjson.loads(event.data)
                except orjson.JSONDecodeError as exc:
                    raise UpstreamError("The gemini provider sent a malformed stream chunk.") from exc
                if not isinstance(data, dict):
                    continue
                if "error" in data:
                    raise self.upstream.error(502, event.data.encode())
                for out in marked(decoder.feed(data), more=event.more):
                    yield out
        if not decoder.complete():
            raise UpstreamError("The gemini provider's stream ended before every candidate finished.")
        self._remember(decoder.signatures)
        yield decoder.usage if decoder.usage is not None else estimated_usage(request, decoder.generated)
