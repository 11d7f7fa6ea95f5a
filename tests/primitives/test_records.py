"""``@record`` (``primitives/records.py``): immutable for the type checker, hashed and compared by its
fields like a frozen dataclass, without frozen's cost at construction."""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path

from mypy import api

from unigate.core.chat import Message, Sampling, TextPart


def test_records_compare_hash_and_copy_by_their_fields() -> None:
    a = Message("user", (TextPart("hi"),))
    b = Message("user", (TextPart("hi"),))
    assert a == b
    assert hash(a) == hash(b)
    assert len({a, b, Message("assistant")}) == 2
    changed = dataclasses.replace(a, role="assistant")
    assert changed.role == "assistant"
    assert a.role == "user"
    assert not hasattr(a, "__dict__")  # slotted


def test_defaults_are_not_shared() -> None:
    assert Sampling().stop == ()
    assert Sampling(stop=("x",)) != Sampling()


def test_the_type_checker_rejects_assigning_a_field(tmp_path: Path) -> None:
    source = tmp_path / "assign.py"
    source.write_text(
        textwrap.dedent(
            """
            from unigate.core.chat import Message
            from unigate.primitives.records import record

            @record
            class Point:
                x: int
                y: int = 0

            Point(1).x = 2
            Message("user").role = "assistant"
            Point(1, 2, 3)
            """
        )
    )
    out, _, status = api.run([str(source), "--cache-dir", str(tmp_path / "cache"), "--no-error-summary"])
    errors = [line for line in out.splitlines() if ": error:" in line]
    assert status == 1
    assert len(errors) == 3, out
    assert '"x" defined in "Point" is read-only' in errors[0]
    assert '"role" defined in "Message" is read-only' in errors[1]
    assert "Too many arguments" in errors[2]
