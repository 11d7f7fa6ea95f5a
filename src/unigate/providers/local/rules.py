"""The GBNF grammars ``grammar.py`` writes, read back into rules we can run ourselves: which texts
may still follow a prefix, and the shortest text that completes it.

llama.cpp keeps its grammar state inside the sampler, out of reach; closing a JSON value before
``max_tokens`` runs out (``closing.py``) needs to know what is open, so the same grammar text is
parsed here into plain rules (repetitions unrolled the way llama.cpp does it) and recognized with
the same set-of-stacks method. Only the GBNF subset our converter emits is read: literals,
character classes, rule references, groups, ``|`` and the ``? * + {n} {n,} {n,m}`` repetitions.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

__all__ = ["Grammar", "Stack", "parse"]

_INFINITE = 1 << 60
_PREFERRED = "a01 "
"""Characters a class is represented by in a shortest text, when it allows them."""


@dataclass(frozen=True, slots=True)
class CharClass:
    """One character position: inclusive code point ranges, or everything but them."""

    ranges: tuple[tuple[int, int], ...]
    negated: bool = False

    def matches(self, point: int) -> bool:
        inside = any(low <= point <= high for low, high in self.ranges)
        return inside != self.negated

    def example(self) -> str:
        for ch in _PREFERRED:
            if self.matches(ord(ch)):
                return ch
        if not self.negated:
            return chr(self.ranges[0][0])
        return next(chr(p) for p in range(0x20, 0x110000) if self.matches(p))


Atom = CharClass | int
"""A character position, or a reference to a rule by its index."""
Stack = tuple[int, int, int, "Stack"] | None
"""(rule, alternative, position in it, the stack to resume once it is done); ``None``: nothing
left to match."""


class Grammar:
    """Rules as alternatives of atom sequences, with each rule's shortest text."""

    def __init__(self, alternatives: list[list[tuple[Atom, ...]]], root: int) -> None:
        self.alternatives = alternatives
        self.root = root
        self._shortest: dict[int, str] = {}
        self._cost, self._best = self._measure()
        self._suffix = [[self._suffix_costs(seq) for seq in alts] for alts in alternatives]

    def _weight(self, atom: Atom, cost: list[int]) -> int:
        return len(atom.example().encode()) if isinstance(atom, CharClass) else cost[atom]

    def _measure(self) -> tuple[list[int], list[int]]:
        """UTF-8 length of each rule's shortest text, and the alternative that gives it (updated on
        strict decrease only, so following the choices never loops)."""
        cost = [_INFINITE] * len(self.alternatives)
        best = [-1] * len(self.alternatives)
        changed = True
        while changed:
            changed = False
            for rule in reversed(range(len(self.alternatives))):
                for i, seq in enumerate(self.alternatives[rule]):
                    total = sum(self._weight(atom, cost) for atom in seq)
                    if total < cost[rule]:
                        cost[rule], best[rule], changed = total, i, True
        return cost, best

    def _suffix_costs(self, seq: tuple[Atom, ...]) -> list[int]:
        costs = [0] * (len(seq) + 1)
        for i in reversed(range(len(seq))):
            costs[i] = min(_INFINITE, costs[i + 1] + self._weight(seq[i], self._cost))
        return costs

    def shortest(self, atom: Atom) -> str:
        """The shortest text ``atom`` matches."""
        if isinstance(atom, CharClass):
            return atom.example()
        if atom not in self._shortest:
            if self._best[atom] < 0:
                raise ValueError("a grammar rule that matches no finite text")
            seq = self.alternatives[atom][self._best[atom]]
            self._shortest[atom] = "".join(self.shortest(a) for a in seq)
        return self._shortest[atom]

    # ---- recognition ----------------------------------------------------------------------------

    def start(self) -> frozenset[Stack]:
        out: set[Stack] = set()
        for i in range(len(self.alternatives[self.root])):
            self._expand((self.root, i, 0, None), out, set())
        return frozenset(out)

    def advance(self, stacks: frozenset[Stack], ch: str) -> frozenset[Stack]:
        """The stacks after one more character (empty: the grammar does not allow it)."""
        point, out = ord(ch), set[Stack]()
        for stack in stacks:
            if stack is None:
                continue
            rule, alt, pos, parent = stack
            atom = self.alternatives[rule][alt][pos]
            if isinstance(atom, CharClass) and atom.matches(point):
                self._expand((rule, alt, pos + 1, parent), out, set())
        return frozenset(out)

    def _expand(self, stack: Stack, out: set[Stack], seen: set[Stack]) -> None:
        """Add to ``out`` the stacks ``stack`` stands for whose next atom is a character."""
        while stack is not None:
            if stack in seen:  # a loop through empty matches adds nothing new
                return
            seen.add(stack)
            rule, alt, pos, parent = stack
            seq = self.alternatives[rule][alt]
            if pos == len(seq):
                stack = parent
                continue
            atom = seq[pos]
            if isinstance(atom, CharClass):
                break
            resume = (rule, alt, pos + 1, parent)
            for i in range(len(self.alternatives[atom])):
                self._expand((atom, i, 0, resume), out, seen)
            return
        out.add(stack)

    def completion_cost(self, stack: Stack) -> int:
        """UTF-8 length of the shortest text that completes ``stack``."""
        total = 0
        while stack is not None:
            rule, alt, pos, stack = stack
            total += self._suffix[rule][alt][pos]
        return total

    def completion(self, stack: Stack) -> str:
        parts = []
        while stack is not None:
            rule, alt, pos, stack = stack
            parts += [self.shortest(atom) for atom in self.alternatives[rule][alt][pos:]]
        return "".join(parts)


@functools.lru_cache(maxsize=64)
def parse(text: str) -> Grammar:
    """``text`` (as ``grammar.grammar_for`` writes it) as a ``Grammar``; cached by the text."""
    lines = [line.split(" ::= ", 1) for line in text.splitlines() if line.strip()]
    reader = _Reader({name: i for i, (name, _) in enumerate(lines)})
    for index, (_, body) in enumerate(lines):
        reader.rule(index, body)
    return Grammar(reader.alternatives, reader.names["root"])


class _Reader:
    """Recursive descent over rule bodies; groups and repetitions become rules of their own."""

    def __init__(self, names: dict[str, int]) -> None:
        self.names = names
        self.alternatives: list[list[tuple[Atom, ...]]] = [[] for _ in names]
        self._text = ""
        self._at = 0

    def rule(self, index: int, body: str) -> None:
        """Read the body of named rule ``index``."""
        self._text, self._at = body, 0
        self.alternatives[index] = self._choice()
        if self._at != len(self._text):
            raise ValueError(f"unexpected {self._text[self._at :]!r} in a grammar rule")

    def _new(self, alternatives: list[tuple[Atom, ...]]) -> int:
        self.alternatives.append(alternatives)
        return len(self.alternatives) - 1

    def _peek(self) -> str:
        while self._at < len(self._text) and self._text[self._at] == " ":
            self._at += 1
        return self._text[self._at] if self._at < len(self._text) else ""

    def _choice(self) -> list[tuple[Atom, ...]]:
        alternatives = [self._sequence()]
        while self._peek() == "|":
            self._at += 1
            alternatives.append(self._sequence())
        return alternatives

    def _sequence(self) -> tuple[Atom, ...]:
        atoms: list[Atom] = []
        while self._peek() not in ("", "|", ")"):
            atoms += self._repeated(self._item())
        return tuple(atoms)

    def _item(self) -> list[Atom]:
        ch, text = self._peek(), self._text
        if ch == '"':
            self._at += 1
            chars = []
            while text[self._at] != '"':
                chars.append(self._char())
            self._at += 1
            return [CharClass(((ord(c), ord(c)),)) for c in chars]
        if ch == "[":
            return [self._class()]
        if ch == "(":
            self._at += 1
            group = self._choice()
            if self._peek() != ")":
                raise ValueError("unclosed group in a grammar rule")
            self._at += 1
            return [self._new(group)]
        start = self._at
        while self._at < len(text) and (text[self._at].isalnum() or text[self._at] == "-"):
            self._at += 1
        return [self.names[text[start : self._at]]]

    def _class(self) -> CharClass:
        self._at += 1
        negated = self._text[self._at] == "^"
        self._at += negated
        ranges = []
        while self._text[self._at] != "]":
            low = self._char()
            high = low
            if self._text[self._at] == "-" and self._text[self._at + 1] != "]":
                self._at += 1
                high = self._char()
            ranges.append((ord(low), ord(high)))
        self._at += 1
        return CharClass(tuple(ranges), negated)

    def _char(self) -> str:
        text, at = self._text, self._at
        if text[at] != "\\":
            self._at += 1
            return text[at]
        kind = text[at + 1]
        width = {"x": 2, "u": 4, "U": 8}.get(kind)
        if width is not None:
            self._at += 2 + width
            return chr(int(text[at + 2 : at + 2 + width], 16))
        self._at += 2
        return {"n": "\n", "r": "\r", "t": "\t"}.get(kind, kind)

    def _repeated(self, item: list[Atom]) -> list[Atom]:
        """``item`` with the repetition that follows it, if any, unrolled into rules."""
        mark = self._text[self._at] if self._at < len(self._text) else ""
        if mark in ("?", "*", "+"):
            self._at += 1
            low, high = {"?": (0, 1), "*": (0, None), "+": (1, None)}[mark]
        elif mark == "{":
            end = self._text.index("}", self._at)
            counts = self._text[self._at + 1 : end].split(",")
            self._at = end + 1
            low = int(counts[0])
            high = low if len(counts) == 1 else (int(counts[1]) if counts[1] else None)
        else:
            return item
        atoms = item * low
        if high is None:
            loop = self._new([])
            self.alternatives[loop] = [(*item, loop), ()]
            return [*atoms, loop]
        tail: list[Atom] = []
        for _ in range(high - low):
            tail = [self._new([(*item, *tail), ()])]
        return atoms + tail
