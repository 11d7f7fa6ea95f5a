"""Kimi's ``$web_search`` round trip, run by the gateway so that its client gets one answer.

Kimi's documented flow (https://platform.moonshot.ai/docs/guide/use-web-search): with the builtin
``$web_search`` tool declared, the model answers ``finish_reason: "tool_calls"`` with a call to
``$web_search`` whose arguments hold a search id and the search's token count; the caller sends
that assistant message back, then a ``tool`` message whose content is those arguments unchanged;
Moonshot runs the search and the model answers from its results. The caller does nothing but
echo, so the gateway echoes: a client (the seeds' loop too, which would echo the same way) gets one
answer that ends with ``stop``, and its usage is the sum of every call's (the later calls' prompts
hold the search results, which Kimi bills as prompt tokens).

The gateway leaves the loop to its client when a turn calls another function too (the client must
run it: it gets every call, ``$web_search`` included, and echoes that one as Kimi documents), when
``n`` > 1 (choices may differ in whether they search), and after ``MAX_SEARCHES`` searches (the next
answer goes as it is). A stream shows each turn's text as it comes; a turn's tool calls and finish
are held until the turn ends and shows whether it only searched.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable
from contextlib import aclosing
from dataclasses import replace
from typing import Any

from unigate.core.results import ChoiceDelta, MoreBuffered, Passthrough, StreamEvent, StreamStart, Usage
from unigate.providers.openai_compat.response import arguments_json

__all__ = ["MAX_SEARCHES", "SEARCH_TOKENS", "complete_searching", "stream_searching", "summed"]

MAX_SEARCHES = 2
SEARCH_TOKENS = 16_000
"""Prompt tokens reserved for each search's results (Kimi reports them in the call's
``usage.total_tokens``; a few thousand is common)."""

Body = dict[str, Any]


def summed(usages: Iterable[Usage]) -> Usage:
    total = Usage(total_tokens=0)
    for u in usages:
        total.prompt_tokens += u.prompt_tokens
        total.completion_tokens += u.completion_tokens
        total.reasoning_tokens += u.reasoning_tokens
        total.cached_tokens += u.cached_tokens
        total.total_tokens = (total.total_tokens or 0) + u.total()
    return total


def _replies(calls: list[tuple[Any, Any, Any]]) -> list[Body] | None:
    """The ``tool`` messages that answer ``calls`` (id, name, arguments), if they are all searches."""
    if not calls or any(name != "$web_search" for _, name, _ in calls):
        return None
    return [
        {"role": "tool", "tool_call_id": call_id, "name": "$web_search", "content": arguments_json(arguments)}
        for call_id, _, arguments in calls
    ]


def _searches(data: Any) -> tuple[Body, list[Body]] | None:
    """The one choice's message of an answer that only searches, and the messages answering it."""
    choices = data.get("choices") if isinstance(data, dict) else None
    if not isinstance(choices, list) or len(choices) != 1 or choices[0].get("finish_reason") != "tool_calls":
        return None
    message = choices[0].get("message")
    calls = message.get("tool_calls") if isinstance(message, dict) else None
    if not isinstance(message, dict) or not isinstance(calls, list):
        return None
    functions = [(c.get("id"), c.get("function") or {}) for c in calls if isinstance(c, dict)]
    replies = _replies([(call_id, f.get("name"), f.get("arguments")) for call_id, f in functions])
    return (message, replies) if replies is not None else None


async def complete_searching(post: Callable[[Body], Awaitable[Any]], body: Body) -> list[Any]:
    """Every answer of the round trip, the last one for the client; each earlier one only searched
    and was echoed (as received) in the next request."""
    answers = []
    for _ in range(MAX_SEARCHES + 1):
        data = await post(body)
        answers.append(data)
        searched = _searches(data)
        if searched is None:
            break
        message, replies = searched
        body = {**body, "messages": [*body["messages"], message, *replies]}
    return answers


async def stream_searching(
    open_stream: Callable[[Body], AsyncGenerator[StreamEvent, None]], body: Body
) -> AsyncGenerator[StreamEvent, None]:
    """The round trip of a stream: one ``StreamStart``, every turn's text, the last turn's tool calls
    and finish, then the summed usage."""
    usages: list[Usage] = []
    for turn in range(MAX_SEARCHES + 1):
        last = turn == MAX_SEARCHES
        held: list[ChoiceDelta] = []
        texts: list[str] = []
        calls: dict[int, list[str]] = {}
        async with aclosing(open_stream(body)) as events:
            async for event in events:
                if isinstance(event, Usage):
                    usages.append(event)
                elif isinstance(event, StreamStart):
                    if turn == 0:
                        yield event
                elif isinstance(event, MoreBuffered):
                    continue  # events may be held: no promise of more in this read
                elif isinstance(event, Passthrough):
                    texts.extend(d.content or "" for d in event.deltas())
                    yield event
                elif (event.tool_calls or event.finish_reason) and not last:
                    texts.append(event.content or "")
                    for call in event.tool_calls:
                        entry = calls.setdefault(call.index, ["", "", ""])
                        entry[0] = call.id or entry[0]
                        entry[1] = call.name or entry[1]
                        entry[2] += call.arguments
                    if event.content or event.reasoning:
                        yield replace(event, tool_calls=(), finish_reason=None, annotations=())
                    held.append(replace(event, content=None, reasoning=None))
                else:
                    texts.append(event.content or "")
                    yield event
        finish = held[-1].finish_reason if held else None
        replies = _replies([(c[0], c[1], c[2]) for c in calls.values()]) if finish == "tool_calls" else None
        if replies is None:
            for delta in held:
                yield delta
            break
        assistant = {
            "role": "assistant",
            "content": "".join(texts),
            "tool_calls": [
                {"id": i, "type": "builtin_function", "function": {"name": n, "arguments": a}}
                for i, n, a in calls.values()
            ],
        }
        body = {**body, "messages": [*body["messages"], assistant, *replies]}
    yield summed(usages)
