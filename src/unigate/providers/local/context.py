"""The embedded model's context: a prompt is measured exactly, before it is queued, and one that
does not fit is refused with OpenAI's ``context_length_exceeded``, naming the sizes; nothing is
ever cut to make it fit.

* A prompt that takes the whole context, or more, is refused: it leaves no room for one token of
  reply. The message is OpenAI's ("This model's maximum context length is 4096 tokens. However,
  your messages resulted in 9812 tokens (8000 in the messages, 1812 in the tools). Please reduce
  the length of the messages or tools."), its numbers without separators, as clients parse them;
  the tools, which this model reads as text in its system prompt, are counted apart.
* A prompt that fits, with a ``max_tokens`` that reaches past the context, is not refused (coding
  agents send ``max_tokens: 32000`` to every model): the reply stops at the end of the context,
  with ``finish_reason: "length"``. OpenAI refuses this case; a 4,096-token model would then
  refuse every agent.

The count is the token ids the worker evaluates: the rendered prompt, tokenized with its special
tokens, a BOS first unless the template wrote one. It runs in a thread, since tokenizing an
agent's long prompt would stall the event loop, and the ids go to the worker with the job, which
does not tokenize again. The refusal comes
before the job is queued, so before any generation; the gateway has reserved credits by then
(its checks run before, on the event loop) and settles the request at zero.
"""

from __future__ import annotations

from unigate.errors import ContextLengthExceeded

__all__ = ["context_exceeded", "context_limit"]


def context_limit(n_ctx: int, catalog_limit: int | None) -> int:
    """The tokens one request may use: the engine's context, or the catalog's when smaller."""
    return min(n_ctx, catalog_limit or n_ctx)


def context_exceeded(limit: int, total: int, *, tools: int = 0, raw: bool = False) -> ContextLengthExceeded:
    """The refusal of a prompt of ``total`` tokens (``tools`` of them describing the tools) on a
    context of ``limit``; ``raw``: a legacy completion's prompt, not chat messages."""
    what = "prompt" if raw else "messages"
    split = f" ({total - tools} in the messages, {tools} in the tools)" if tools > 0 else ""
    room = "" if total > limit else ", which leave no room for a reply"
    reduce = "the messages or tools" if tools > 0 else f"the {what}"
    return ContextLengthExceeded(
        f"This model's maximum context length is {limit} tokens. However, your {what} resulted in "
        f"{total} tokens{split}{room}. Please reduce the length of {reduce}.",
        param="prompt" if raw else "messages",
    )
