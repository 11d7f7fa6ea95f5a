"""Closing a grammar-constrained choice before its token budget runs out, so JSON output, a JSON
schema's output and a forced tool call always parse and validate (issue 22, item 2).

A ``Closer`` follows one choice's text through the grammar's rules (``rules.py``) and keeps an
invariant: the tokens used so far plus the tokens of the shortest completion of the open value
fit in the budget. Each sampled token is checked before it is kept; one that would break the
invariant is dropped, and from then on only the shortest completion of what was kept is allowed:
its tokens are forced one per step (decoded like sampled ones, so their logprobs are the
model's). The shortest completion closes open strings, arrays and objects, with the required
properties still missing given their shortest values (``""``, ``0``, the shortest enum value...),
all by the same grammar the sampler enforces. The choice then ends with ``length``: the budget,
not the model, ended it.

The completion is shortest in bytes, not tokens (tokens are counted exactly, on its text).
"""

from __future__ import annotations

import codecs
import logging
from collections.abc import Callable

from unigate.providers.local.rules import Grammar, Stack, parse

__all__ = ["Closer", "shortest_completion", "shortest_value"]

logger = logging.getLogger(__name__)

Tokenize = Callable[[str], list[int]]


def shortest_value(grammar: str) -> str:
    """The shortest text ``grammar`` accepts (what a choice costs at the least)."""
    rules = parse(grammar)
    return rules.completion(_best(rules, rules.start()))


def shortest_completion(grammar: str, prefix: str) -> str | None:
    """The shortest text that makes ``prefix`` a whole value of ``grammar`` (``None``: no text
    does), as a ``Closer`` would force it."""
    rules = parse(grammar)
    stacks = rules.start()
    for ch in prefix:
        stacks = rules.advance(stacks, ch)
    return rules.completion(_best(rules, stacks)) if stacks else None


def _best(rules: Grammar, stacks: frozenset[Stack]) -> Stack:
    """The stack with the shortest completion (``stacks`` is not empty); a tie goes to the first
    completion in code point order, not to the set's order, which varies between processes."""
    costs = {stack: rules.completion_cost(stack) for stack in stacks}
    least = min(costs.values())
    tied = [stack for stack, cost in costs.items() if cost == least]
    return tied[0] if len(tied) == 1 else min(tied, key=rules.completion)


class Closer:
    """The closing of one choice of a job: create it when the choice starts."""

    def __init__(self, grammar: str, *, limit: int, tokenize: Tokenize) -> None:
        self._rules = parse(grammar)
        self._stacks = self._rules.start()
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._tokenize = tokenize
        self._forced: list[int] | None = None
        """The closing's tokens still to emit, once closing began."""
        self.active = len(self._closing_tokens(self._stacks)) <= limit
        """False when even the shortest value does not fit (the context's room was smaller than
        ``max_tokens``, which ``LocalProvider.check`` compares): the text may be cut short."""

    def _closing_tokens(self, stacks: frozenset[Stack]) -> list[int]:
        return self._tokenize(self._rules.completion(_best(self._rules, stacks)))

    @property
    def closing(self) -> bool:
        return self._forced is not None

    @property
    def complete(self) -> bool:
        """Whether the text so far is a whole value of the grammar."""
        return self.active and (self._forced == [] or (self._forced is None and None in self._stacks))

    def keep(self, piece: bytes, *, room: int) -> bool:
        """Whether a sampled token (its bytes) may be kept with ``room`` tokens left after it; if
        not, closing begins (``next_forced``), from the text before it."""
        if not self.active or self.closing:
            return True
        stacks = self._stacks
        try:
            for ch in self._decoder.decode(piece):
                stacks = self._rules.advance(stacks, ch)
        except (UnicodeDecodeError, RecursionError):
            stacks = frozenset()
        if not stacks:  # our rules and llama.cpp's disagree: leave this choice as it was before
            logger.warning("local model output left the grammar's rules; no closing for this choice")
            self.active = False
            return True
        # A token spans at least one byte, so a completion of ``room`` bytes fits without counting.
        if self._rules.completion_cost(_best(self._rules, stacks)) <= room or (
            len(self._closing_tokens(stacks)) <= room
        ):
            self._stacks = stacks
            return True
        # The kept text may end inside a character: its bytes are dropped with this token.
        self._forced = self._closing_tokens(self._stacks)
        return False

    def next_forced(self) -> int | None:
        """The next token of the closing (``None``: not closing, or nothing left)."""
        if not self._forced:
            return None
        return self._forced.pop(0)
