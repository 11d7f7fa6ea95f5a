"""Canonical results to the Responses API wire: ``response`` objects and their stream events
(https://platform.openai.com/docs/api-reference/responses-streaming), with our ``meta.usage``.

Output items, in order: a ``reasoning`` item (``reasoning_text`` content) when the model
reasoned, a ``message`` item with one ``output_text`` part when it wrote text (or wrote nothing at
all), then one ``function_call`` item per tool call. ``finish_reason`` ``length`` makes the
response ``incomplete`` (``max_output_tokens``), ``content_filter`` too; anything else
``completed``.

A stream is ``response.created``, ``response.in_progress``, then per item ``output_item.added``,
(for content) ``content_part.added``, the deltas, the ``.done`` events, ``output_item.done``,
and finally ``response.completed`` (or ``response.incomplete``) carrying the whole response,
usage and ``meta``. Every event has a ``sequence_number`` from 0. A failure after the headers is
an ``error`` event followed by ``response.failed``.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from unigate.api.meta import meta
from unigate.api.streaming import sse_event
from unigate.core.gateway import Charge
from unigate.core.results import ChatResult, ChoiceDelta, FinishReason, Seal, TokenLogprob, UrlCitation, Usage
from unigate.errors import GatewayError
from unigate.primitives.ids import hex_id

__all__ = ["ResponseStream", "new_response_id", "pending_response", "response_body", "response_object"]


def new_response_id() -> str:
    return "resp_" + hex_id(24)


def _id(prefix: str) -> str:
    return f"{prefix}_" + hex_id(24)


def _usage(u: Usage) -> dict[str, Any]:
    return {
        "input_tokens": u.prompt_tokens,
        "input_tokens_details": {"cached_tokens": u.cached_tokens, "cache_write_tokens": u.cache_write_tokens},
        "output_tokens": u.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": u.reasoning_tokens},
        "total_tokens": u.total(),
    }


def _logprobs(items: tuple[TokenLogprob, ...] | None) -> list[dict[str, Any]]:
    return [
        {
            "token": t.token,
            "logprob": t.logprob,
            "bytes": list(t.bytes or ()),
            "top_logprobs": [
                {"token": a.token, "logprob": a.logprob, "bytes": list(a.bytes or ())} for a in t.top_logprobs
            ],
        }
        for t in items or ()
    ]


def _status(reason: FinishReason | None) -> tuple[str, dict[str, str] | None]:
    if reason == "length":
        return "incomplete", {"reason": "max_output_tokens"}
    if reason == "content_filter":
        return "incomplete", {"reason": "content_filter"}
    return "completed", None


def _reasoning_item(item_id: str, text: str, status: str, seal: Seal | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "type": "reasoning",
        "id": item_id,
        "summary": [],
        "content": [{"type": "reasoning_text", "text": text}],
        "status": status,
    }
    if seal is not None and seal.dialect == "openai_responses":
        # The client sends it back on the next turn (store: false), as it would to OpenAI.
        item["encrypted_content"] = seal.value
    return item


def _sealed(seal: Seal | None) -> bool:
    return seal is not None and seal.dialect == "openai_responses"


def _text_part(text: str, logprobs: list[dict[str, Any]], cited: tuple[UrlCitation, ...] = ()) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [_annotation(c) for c in cited], "logprobs": logprobs}


def _annotation(c: UrlCitation) -> dict[str, Any]:
    """A searched answer's source, as OpenAI's web search tool cites it on this API."""
    return {
        "type": "url_citation",
        "start_index": c.start_index,
        "end_index": c.end_index,
        "url": c.url,
        "title": c.title,
    }


def _message_item(item_id: str, parts: list[dict[str, Any]], status: str) -> dict[str, Any]:
    return {"type": "message", "id": item_id, "status": status, "role": "assistant", "content": parts}


def _call_item(item_id: str, call_id: str, name: str, arguments: str, status: str) -> dict[str, Any]:
    return {
        "type": "function_call",
        "id": item_id,
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
        "status": status,
    }


def _response(
    response_id: str,
    created_at: int,
    model: str,
    echo: dict[str, Any],
    *,
    status: str,
    output: list[dict[str, Any]],
    incomplete: dict[str, str] | None = None,
    usage: Usage | None = None,
    error: dict[str, Any] | None = None,
    charge: Charge | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": status,
        "error": error,
        "incomplete_details": incomplete,
        "model": model,
        "output": output,
        **echo,
        "usage": _usage(usage) if usage is not None else None,
    }
    if status in {"completed", "incomplete"}:
        body["completed_at"] = int(time.time())
    if charge is not None:
        body["meta"] = meta(charge)
    return body


def pending_response(response_id: str, created_at: int, model: str, echo: dict[str, Any]) -> dict[str, Any]:
    """A background response as it is answered at once: ``queued``, no output yet."""
    return _response(response_id, created_at, model, echo, status="queued", output=[])


def response_body(result: ChatResult, charge: Charge, *, echo: dict[str, Any]) -> bytes:
    return orjson.dumps(response_object(result, charge, echo=echo))


def response_object(
    result: ChatResult,
    charge: Charge,
    *,
    echo: dict[str, Any],
    response_id: str | None = None,
    created_at: int | None = None,
) -> dict[str, Any]:
    """The ``response`` object of ``result`` (a new id, and now, unless given)."""
    choice = result.choices[0]
    output: list[dict[str, Any]] = []
    if choice.reasoning or _sealed(choice.seal):
        output.append(_reasoning_item(_id("rs"), choice.reasoning or "", "completed", choice.seal))
    if choice.content or not choice.tool_calls:
        part = _text_part(choice.content or "", _logprobs(choice.logprobs), choice.annotations)
        output.append(_message_item(_id("msg"), [part], "completed"))
    for call in choice.tool_calls:
        output.append(_call_item(_id("fc"), call.id, call.name, call.arguments, "completed"))
    status, incomplete = _status(choice.finish_reason)
    return _response(
        response_id or new_response_id(),
        int(time.time()) if created_at is None else created_at,
        result.model,
        echo,
        status=status,
        output=output,
        incomplete=incomplete,
        usage=result.usage,
        charge=charge,
    )


class _Open:
    """The output item being streamed."""

    def __init__(self, kind: str, item_id: str, index: int, *, call_id: str = "", name: str = "") -> None:
        self.kind = kind
        self.item_id = item_id
        self.index = index
        self.call_id = call_id
        self.name = name
        self.text = ""
        self.logprobs: list[dict[str, Any]] = []
        self.cited: tuple[UrlCitation, ...] = ()
        self.call_index = -1
        self.seal: Seal | None = None


class ResponseStream:
    """Renders one stream's events (choice 0 only: the Responses API has no ``n``)."""

    def __init__(self, *, model: str, echo: dict[str, Any], response_id: str | None = None) -> None:
        self.id = response_id or new_response_id()
        self.created_at = int(time.time())
        self.model = model
        self.echo = echo
        self._seq = 0
        self._output: list[dict[str, Any]] = []
        self._open: _Open | None = None
        self._finish: FinishReason | None = None
        self.final: dict[str, Any] | None = None
        """The whole response once the stream ended (completed, incomplete or failed)."""

    def _event(self, kind: str, **fields: Any) -> bytes:
        data = {"type": kind, "sequence_number": self._seq, **fields}
        self._seq += 1
        return sse_event(data, event=kind)

    def _snapshot(self, status: str, **extra: Any) -> dict[str, Any]:
        return _response(self.id, self.created_at, self.model, self.echo, status=status, output=self._output, **extra)

    def start(self) -> bytes:
        snapshot = self._snapshot("in_progress")
        return self._event("response.created", response=snapshot) + self._event(
            "response.in_progress", response=snapshot
        )

    def _begin(self, kind: str, *, call_id: str = "", name: str = "") -> bytes:
        out = self._close()
        prefix = {"reasoning": "rs", "message": "msg", "function_call": "fc"}[kind]
        item = _Open(kind, _id(prefix), len(self._output), call_id=call_id, name=name)
        self._open = item
        if kind == "reasoning":
            added = {**_reasoning_item(item.item_id, "", "in_progress"), "content": []}
            part: dict[str, Any] | None = {"type": "reasoning_text", "text": ""}
        elif kind == "message":
            added = _message_item(item.item_id, [], "in_progress")
            part = _text_part("", [])
        else:
            added = _call_item(item.item_id, call_id, name, "", "in_progress")
            part = None
        self._output.append(added)
        out += self._event("response.output_item.added", output_index=item.index, item=added)
        if part is not None:
            out += self._event(
                "response.content_part.added", item_id=item.item_id, output_index=item.index, content_index=0, part=part
            )
        return out

    def _close(self) -> bytes:
        item, self._open = self._open, None
        if item is None:
            return b""
        ids = {"item_id": item.item_id, "output_index": item.index}
        if item.kind == "function_call":
            done = _call_item(item.item_id, item.call_id, item.name, item.text, "completed")
            out = self._event("response.function_call_arguments.done", **ids, arguments=item.text)
        elif item.kind == "reasoning":
            done = _reasoning_item(item.item_id, item.text, "completed", item.seal)
            part = {"type": "reasoning_text", "text": item.text}
            out = self._event("response.reasoning_text.done", **ids, content_index=0, text=item.text)
            out += self._event("response.content_part.done", **ids, content_index=0, part=part)
        else:
            part = _text_part(item.text, item.logprobs, item.cited)
            done = _message_item(item.item_id, [part], "completed")
            out = self._event(
                "response.output_text.done", **ids, content_index=0, text=item.text, logprobs=item.logprobs
            )
            out += self._event("response.content_part.done", **ids, content_index=0, part=part)
        self._output[item.index] = done
        return out + self._event("response.output_item.done", output_index=item.index, item=done)

    def delta(self, d: ChoiceDelta) -> bytes:
        out = b""
        if _sealed(d.seal):
            # OpenAI seals a reasoning item when it ends: the one open, or one without summary.
            if self._open is None or self._open.kind != "reasoning" or self._open.seal is not None:
                out += self._begin("reasoning")
            assert self._open is not None
            self._open.seal = d.seal
        if d.reasoning:
            if self._open is None or self._open.kind != "reasoning" or self._open.seal is not None:
                out += self._begin("reasoning")
            assert self._open is not None
            self._open.text += d.reasoning
            out += self._event(
                "response.reasoning_text.delta",
                item_id=self._open.item_id,
                output_index=self._open.index,
                content_index=0,
                delta=d.reasoning,
            )
        if d.content:
            if self._open is None or self._open.kind != "message":
                out += self._begin("message")
            assert self._open is not None
            logprobs = _logprobs(d.logprobs)
            self._open.text += d.content
            self._open.logprobs += logprobs
            out += self._event(
                "response.output_text.delta",
                item_id=self._open.item_id,
                output_index=self._open.index,
                content_index=0,
                delta=d.content,
                logprobs=logprobs,
            )
        if d.annotations and self._open is not None and self._open.kind == "message":
            out += self._cite(self._open, d.annotations)
        for call in d.tool_calls:
            current = self._open
            if current is None or current.kind != "function_call" or current.call_index != call.index:
                out += self._begin("function_call", call_id=call.id or _id("call"), name=call.name or "")
                assert self._open is not None
                self._open.call_index = call.index
            assert self._open is not None
            if call.arguments:
                self._open.text += call.arguments
                out += self._event(
                    "response.function_call_arguments.delta",
                    item_id=self._open.item_id,
                    output_index=self._open.index,
                    delta=call.arguments,
                )
        if d.finish_reason is not None:
            self._finish = d.finish_reason
        return out

    def _cite(self, item: _Open, cited: tuple[UrlCitation, ...]) -> bytes:
        out = b""
        for c in cited:
            out += self._event(
                "response.output_text.annotation.added",
                item_id=item.item_id,
                output_index=item.index,
                content_index=0,
                annotation_index=len(item.cited),
                annotation=_annotation(c),
            )
            item.cited += (c,)
        return out

    def end(self, usage: Usage | None, charge: Charge) -> bytes:
        out = b"" if self._output or self._open else self._begin("message")
        out += self._close()
        status, incomplete = _status(self._finish)
        self.final = self._snapshot(status, incomplete=incomplete, usage=usage or Usage(), charge=charge)
        return out + self._event(f"response.{status}", response=self.final)

    def error(self, err: GatewayError) -> bytes:
        error = {"code": err.code, "message": err.message}
        out = self._event("error", code=err.code, message=err.message, param=err.param)
        self.final = self._snapshot("failed", error=error)
        return out + self._event("response.failed", response=self.final)
