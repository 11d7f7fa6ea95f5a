"""A scripted upstream for the coding agents' tests: one ``Emulator`` that speaks Anthropic
Messages, OpenAI Responses and OpenAI Chat Completions, all streamed, and plays a two-turn tool
round trip whatever agent is behind the gateway.

Each answer is chosen by what the request carries, not by its order, because an agent may send
side requests (opencode asks for a session title while it works):

- a request whose conversation ends with a tool result answers a text quoting the secret it finds
  in that result (``SECRET``), so an agent's final answer can hold the secret only if the tool
  round trip went through the gateway both ways; a tool result without one answers that it saw
  none;
- a request offering the agent's read tool (Claude Code's ``Read``, Codex's ``exec_command``,
  opencode's ``read``) answers a call of that tool on ``file``, after a signed thinking block
  (Anthropic) or a reasoning item with ``encrypted_content`` (Responses), which the agent must send
  back on its next turn;
- any other request answers a short text.

The events follow the providers' API references: Anthropic's streaming messages
(https://docs.anthropic.com/en/docs/build-with-claude/streaming), OpenAI's Responses streaming
events (https://platform.openai.com/docs/api-reference/responses-streaming) and chat completion
chunks (https://platform.openai.com/docs/api-reference/chat-streaming). Token counts are derived
from the request's size and kept in ``reported`` as prompt and completion tokens (Anthropic's total
input is its uncached, cache-read and cache-written tokens together), so that a test checks the
ledger against what the upstream said.
"""

from __future__ import annotations

import base64
import itertools
import re
import secrets
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from tests.providers.emulators import Emulator, Recorded, Reply, sse_reply

__all__ = ["SECRET", "Reported", "ScriptedUpstream", "new_secret", "tool_results"]

SECRET = re.compile(r"unigate-secret-[0-9a-f]{16}")
"""What the file the agent reads holds; the upstream quotes what matches it."""

READ_TOOLS = {"/v1/messages": "Read", "/v1/responses": "exec_command", "/v1/chat/completions": "read"}
"""The tool each dialect's agent reads a file with (from the recorded requests in
``tests/providers/fixtures/agents``)."""


def new_secret() -> str:
    return f"unigate-secret-{secrets.token_hex(8)}"


@dataclass(frozen=True)
class Reported:
    """The usage one answer reported: every input token (cached or not) and every output token."""

    path: str
    prompt_tokens: int
    completion_tokens: int


def tool_results(request: Recorded) -> list[str]:
    """The texts of the tool results ``request`` carries, in any of the three dialects."""
    body = request.body if isinstance(request.body, dict) else {}
    texts: list[str] = []
    for message in body.get("messages") or []:
        content = message.get("content")
        if message.get("role") == "tool":  # Chat Completions
            texts.append(_text_of(content))
        elif isinstance(content, list):  # Anthropic: tool_result blocks in a user turn
            texts += [_text_of(b.get("content")) for b in content if b.get("type") == "tool_result"]
    items = body.get("input")
    for item in items if isinstance(items, list) else []:
        if item.get("type") == "function_call_output":  # Responses
            texts.append(_text_of(item.get("output")))
    return texts


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def _offers(body: dict[str, Any], name: str) -> bool:
    """Whether ``body`` offers the tool ``name`` (Anthropic and Responses: ``name``; chat: ``function.name``)."""
    return any(name in (t.get("name"), (t.get("function") or {}).get("name")) for t in body.get("tools") or [])


def _ends_with_tool_result(body: dict[str, Any]) -> bool:
    messages = body.get("messages")
    if isinstance(messages, list) and messages:
        last = messages[-1]
        if last.get("role") == "tool":
            return True
        content = last.get("content")
        return isinstance(content, list) and any(b.get("type") == "tool_result" for b in content)
    items = body.get("input")
    return isinstance(items, list) and bool(items) and items[-1].get("type") == "function_call_output"


def _pieces(text: str, size: int = 12) -> Iterator[str]:
    """``text`` in the small pieces a model streams."""
    for i in range(0, len(text), size):
        yield text[i : i + size]


def _sse(events: list[tuple[str | None, dict[str, Any]]]) -> bytes:
    out = bytearray()
    for name, data in events:
        if name is not None:
            out += f"event: {name}\n".encode()
        out += b"data: " + orjson.dumps(data) + b"\n\n"
    return bytes(out)


class ScriptedUpstream(Emulator):
    """The emulator answering by what each request holds (the module's docstring says how)."""

    def __init__(self) -> None:
        super().__init__()
        self.file = ""
        """The absolute path the scripted tool call reads; set before the agent runs."""
        self.reported: list[Reported] = []
        self.opaque: list[str] = []
        """The thinking signatures and encrypted reasoning handed out, which the agent must send back."""
        self._ids = itertools.count(1)

    def model_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.method == "POST" and r.path in READ_TOOLS]

    def reply_to(self, request: Recorded) -> Reply:
        if self.replies or request.path not in READ_TOOLS or not isinstance(request.body, dict):
            return super().reply_to(request)
        body: dict[str, Any] = request.body
        prompt = len(orjson.dumps(body)) // 4  # about four bytes a token
        results = tool_results(request)
        call: str | None = None
        if _ends_with_tool_result(body):
            found = SECRET.search("\n".join(results))
            text = f"The file holds {found.group()}." if found else "The tool result held no secret."
        elif _offers(body, READ_TOOLS[request.path]):
            text, call = "", self.file
        else:
            text = "Reading a file"
        completion = 1 + len(text) // 4 + (40 if call is not None else 0)
        self.reported.append(Reported(request.path, prompt, completion))
        n = next(self._ids)
        model = str(body.get("model", ""))
        if request.path == "/v1/chat/completions":
            return sse_reply(_chat(n, model, text, call, prompt, completion))
        # A thinking block's signature, or a reasoning item's sealed content: opaque to the agent.
        opaque = base64.b64encode(secrets.token_bytes(48)).decode()
        if request.path == "/v1/messages":
            events = _anthropic(n, model, text, call, prompt, completion, signature=opaque)
        else:
            opaque = "gAAAAA" + opaque  # how OpenAI's encrypted reasoning begins (a Fernet token)
            events = _responses(n, model, text, call, prompt, completion, sealed=opaque)
        if call is not None:
            self.opaque.append(opaque)
        return sse_reply(events)


def _anthropic(
    n: int, model: str, text: str, read: str | None, prompt: int, completion: int, *, signature: str
) -> bytes:
    """A streamed message: a signed thinking block then a ``Read`` call, or a text block."""
    cached = prompt // 2  # the system prompt and tools, marked cache_control, read from the cache
    usage = {
        "input_tokens": prompt - cached,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": cached,
        "output_tokens": 1,
    }
    message: dict[str, Any] = {
        "id": f"msg_01Scripted{n:012d}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": usage,
    }
    events: list[tuple[str | None, dict[str, Any]]] = [("message_start", {"type": "message_start", "message": message})]

    def block(index: int, start: dict[str, Any], deltas: list[dict[str, Any]]) -> None:
        events.append(("content_block_start", {"type": "content_block_start", "index": index, "content_block": start}))
        for delta in deltas:
            events.append(("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}))
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))

    if read is not None:
        thought = "The user wants what the file holds; I will read it."
        block(
            0,
            {"type": "thinking", "thinking": "", "signature": ""},
            [{"type": "thinking_delta", "thinking": p} for p in _pieces(thought)]
            + [{"type": "signature_delta", "signature": signature}],
        )
        arguments = orjson.dumps({"file_path": read}).decode()
        block(
            1,
            {"type": "tool_use", "id": f"toolu_01Scripted{n:012d}", "name": "Read", "input": {}},
            [{"type": "input_json_delta", "partial_json": ""}]
            + [{"type": "input_json_delta", "partial_json": p} for p in _pieces(arguments)],
        )
        stop = "tool_use"
    else:
        block(0, {"type": "text", "text": ""}, [{"type": "text_delta", "text": p} for p in _pieces(text)])
        stop = "end_turn"
    events.append(("ping", {"type": "ping"}))
    final_usage = {**usage, "output_tokens": completion}
    delta = {"stop_reason": stop, "stop_sequence": None}
    events.append(("message_delta", {"type": "message_delta", "delta": delta, "usage": final_usage}))
    events.append(("message_stop", {"type": "message_stop"}))
    return _sse(events)


def _responses(
    n: int, model: str, text: str, cmd_on: str | None, prompt: int, completion: int, *, sealed: str
) -> bytes:
    """A streamed response: a reasoning item (summary and ``encrypted_content``) then an
    ``exec_command`` call, or a message."""
    response_id = f"resp_scripted{n:08d}"
    response: dict[str, Any] = {
        "id": response_id,
        "object": "response",
        "created_at": 1_765_000_000 + n,
        "status": "in_progress",
        "error": None,
        "incomplete_details": None,
        "model": model,
        "output": [],
        "parallel_tool_calls": True,
        "store": False,
        "usage": None,
    }
    events: list[tuple[str | None, dict[str, Any]]] = []
    seq = itertools.count()

    def emit(kind: str, **fields: Any) -> None:
        events.append((kind, {"type": kind, "sequence_number": next(seq), **fields}))

    emit("response.created", response=response)
    emit("response.in_progress", response=response)
    output: list[dict[str, Any]] = []
    if cmd_on is not None:
        rs = f"rs_scripted{n:08d}"
        summary = "**Reading the file**\n\nThe user asks what the file holds; I will print it."
        emit("response.output_item.added", output_index=0, item={"id": rs, "type": "reasoning", "summary": []})
        part: dict[str, Any] = {"type": "summary_text", "text": ""}
        emit("response.reasoning_summary_part.added", item_id=rs, output_index=0, summary_index=0, part=part)
        for piece in _pieces(summary):
            emit("response.reasoning_summary_text.delta", item_id=rs, output_index=0, summary_index=0, delta=piece)
        emit("response.reasoning_summary_text.done", item_id=rs, output_index=0, summary_index=0, text=summary)
        part = {"type": "summary_text", "text": summary}
        emit("response.reasoning_summary_part.done", item_id=rs, output_index=0, summary_index=0, part=part)
        reasoning = {
            "id": rs,
            "type": "reasoning",
            "summary": [part],
            "encrypted_content": sealed,
        }
        emit("response.output_item.done", output_index=0, item=reasoning)
        fc = f"fc_scripted{n:08d}"
        arguments = orjson.dumps({"cmd": f"cat {shlex.quote(cmd_on)}"}).decode()
        call = {
            "id": fc,
            "type": "function_call",
            "status": "in_progress",
            "arguments": "",
            "call_id": f"call_scripted{n:08d}",
            "name": "exec_command",
        }
        emit("response.output_item.added", output_index=1, item=call)
        for piece in _pieces(arguments):
            emit("response.function_call_arguments.delta", item_id=fc, output_index=1, delta=piece)
        emit("response.function_call_arguments.done", item_id=fc, output_index=1, arguments=arguments)
        call = {**call, "status": "completed", "arguments": arguments}
        emit("response.output_item.done", output_index=1, item=call)
        output = [reasoning, call]
    else:
        msg = f"msg_scripted{n:08d}"
        item: dict[str, Any] = {"id": msg, "type": "message", "status": "in_progress", "role": "assistant"}
        item["content"] = []
        emit("response.output_item.added", output_index=0, item=item)
        part = {"type": "output_text", "text": "", "annotations": []}
        emit("response.content_part.added", item_id=msg, output_index=0, content_index=0, part=part)
        for piece in _pieces(text):
            emit("response.output_text.delta", item_id=msg, output_index=0, content_index=0, delta=piece)
        emit("response.output_text.done", item_id=msg, output_index=0, content_index=0, text=text)
        part = {**part, "text": text}
        emit("response.content_part.done", item_id=msg, output_index=0, content_index=0, part=part)
        item = {**item, "status": "completed", "content": [part]}
        emit("response.output_item.done", output_index=0, item=item)
        output = [item]
    usage = {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": prompt // 2},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": completion // 2},
        "total_tokens": prompt + completion,
    }
    emit("response.completed", response={**response, "status": "completed", "output": output, "usage": usage})
    return _sse(events)


def _chat(n: int, model: str, text: str, read: str | None, prompt: int, completion: int) -> bytes:
    """Streamed chat completion chunks: a ``read`` tool call, or text; then the usage chunk."""
    base = {"id": f"chatcmpl-scripted{n:08d}", "object": "chat.completion.chunk", "created": 1_765_000_000 + n}
    base |= {"model": model, "system_fingerprint": "fp_scripted"}
    chunks: list[dict[str, Any]] = []

    def choice(delta: dict[str, Any], finish: str | None = None) -> None:
        chunks.append({**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]})

    if read is not None:
        arguments = orjson.dumps({"filePath": read}).decode()
        function = {"name": "read", "arguments": ""}
        call = {"index": 0, "id": f"call_scripted{n:08d}", "type": "function", "function": function}
        choice({"role": "assistant", "content": None, "tool_calls": [call], "refusal": None})
        for piece in _pieces(arguments):
            choice({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
        choice({}, "tool_calls")
    else:
        choice({"role": "assistant", "content": "", "refusal": None})
        for piece in _pieces(text):
            choice({"content": piece})
        choice({}, "stop")
    usage = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
    chunks.append({**base, "choices": [], "usage": usage})
    return _sse([(None, c) for c in chunks]) + b"data: [DONE]\n\n"
