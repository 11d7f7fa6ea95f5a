"""Pieces of GBNF text for llama.cpp grammars (``grammar.py`` builds the rules): string literals,
repetition counts, and alternatives that match exactly the decimal integers of a range, which is
how a JSON Schema's bounds on a number are enforced while generating.
"""

from __future__ import annotations

__all__ = ["int_range", "literal", "repeat"]


def literal(text: str) -> str:
    """``text`` as a quoted GBNF literal."""
    escaped = []
    for ch in text:
        if ch in '\\"':
            escaped.append("\\" + ch)
        elif ch in "\n\r\t":
            escaped.append({"\n": "\\n", "\r": "\\r", "\t": "\\t"}[ch])
        elif ord(ch) < 0x20 or ch == "\x7f":
            escaped.append(f"\\x{ord(ch):02X}")
        else:
            escaped.append(ch)
    return '"' + "".join(escaped) + '"'


def repeat(low: int, high: int | None) -> str:
    """The GBNF repetition of ``low`` to ``high`` times (``None``: unbounded)."""
    if high is None:
        return "*" if low == 0 else f"{{{low},}}"
    return f"{{{low}}}" if low == high else f"{{{low},{high}}}"


def int_range(low: int, high: int) -> str:
    """Alternatives matching exactly the decimal integers in ``[low, high]`` (no leading zeros)."""
    alternatives = []
    if low < 0:
        magnitudes = _digits_range(1 if high >= 0 else -high, -low)
        alternatives += [f'"-" {a}' if a else '"-"' for a in magnitudes]
    if high >= 0:
        alternatives += _digits_range(max(low, 0), high)
    return "(" + " | ".join(alternatives) + ")"


def _digits_range(low: int, high: int) -> list[str]:
    alternatives: list[str] = []
    full: list[int] = []  # widths covered entirely, merged into one [1-9] [0-9]{a,b}
    for width in range(len(str(low)), len(str(high)) + 1):
        start = max(low, 10 ** (width - 1) if width > 1 else 0)
        end = min(high, 10**width - 1)
        if width > 1 and start == 10 ** (width - 1) and end == 10**width - 1:
            full.append(width)
        elif start <= end:
            alternatives += _same_width(str(start), str(end))
    if full:
        alternatives.append(f"[1-9] [0-9]{repeat(full[0] - 1, full[-1] - 1)}")
    return alternatives


def _same_width(low: str, high: str) -> list[str]:
    """Sequences matching the digit strings of one width from ``low`` to ``high``."""
    if low == high:
        return [f'"{low}"'] if low else [""]
    rest = len(low) - 1
    if low[0] == high[0]:
        return [_join(f'"{low[0]}"', tail) for tail in _same_width(low[1:], high[1:])]
    any_rest = f"[0-9]{{{rest}}}" if rest > 1 else "[0-9]" if rest else ""
    first, last = int(low[0]), int(high[0])
    alternatives, closing = [], []
    if low[1:] != "0" * rest:
        alternatives += [_join(f'"{low[0]}"', tail) for tail in _same_width(low[1:], "9" * rest)]
        first += 1
    if high[1:] != "9" * rest:
        closing = [_join(f'"{high[0]}"', tail) for tail in _same_width("0" * rest, high[1:])]
        last -= 1
    if first <= last:
        alternatives.append(_join(f"[{first}-{last}]", any_rest))
    return alternatives + closing


def _join(head: str, tail: str) -> str:
    return f"{head} {tail}" if tail else head
