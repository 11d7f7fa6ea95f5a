"""The SSE decoder on what upstreams really send, cut into network chunks at every position."""

from __future__ import annotations

import random

import pytest

from unigate.core.results import MORE_BUFFERED, StreamStart
from unigate.providers.sse import SseDecoder, SseEvent, marked, read_events


def decode(raw: bytes, piece: int) -> list[SseEvent]:
    decoder = SseDecoder()
    events = []
    for i in range(0, len(raw), piece):
        events.extend(decoder.feed(raw[i : i + piece]))
    return events + decoder.close()


STREAM = (
    b"\xef\xbb\xbf: OPENROUTER PROCESSING\n\n"
    b"event: message_start\r\n"
    b'data: {"a":1}\r\n\r\n'
    b"data:no-space\n"
    b"data: second line\n"
    b"id: 7\n"
    b"retry: 100\n\n"
    b"\n\n"
    b"data: caf\xc3\xa9 \xe2\x9c\x93\r\r"
    b"data: [DONE]\n\n"
)
EXPECTED = [
    SseEvent('{"a":1}', "message_start"),
    SseEvent("no-space\nsecond line"),
    SseEvent("café ✓"),
    SseEvent("[DONE]"),
]


@pytest.mark.parametrize("piece", [1, 2, 3, 5, 7, 64, 4096])
def test_comments_crlf_multiline_data_and_split_utf8_at_any_chunk_size(piece: int) -> None:
    assert decode(STREAM, piece) == EXPECTED


def test_a_last_event_without_its_blank_line_is_kept() -> None:
    assert decode(b'data: {"x": 1}\ndata: tail', 3) == [SseEvent('{"x": 1}\ntail')]
    assert decode(b"data: one\r", 1) == [SseEvent("one")]


def test_lines_without_data_dispatch_nothing() -> None:
    assert decode(b"event: ping\n\n: keep-alive\n\nid: 1\n\n", 4) == []


@pytest.mark.parametrize("piece", [1, 2, 3, 5, 7, 64, 4096])
def test_line_feeds_only_at_any_chunk_size(piece: int) -> None:
    lf_only = STREAM.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    assert b"\r" not in lf_only
    assert decode(lf_only, piece) == EXPECTED


def test_read_events_marks_the_events_that_others_follow_in_the_same_read() -> None:
    decoder = SseDecoder()
    seen = [(e.data, e.more) for e in read_events(decoder, b"data: 1\n\ndata: 2\n\ndata: 3\n\n")]
    seen += [(e.data, e.more) for e in read_events(decoder, b"data: 4\n\ndata: 5")]
    seen += [(e.data, e.more) for e in read_events(decoder, None)]
    assert seen == [("1", True), ("2", True), ("3", False), ("4", False), ("5", False)]
    assert read_events(decoder, b"data: 6\n\n") == [SseEvent("6")]  # ``more`` is not part of the event's value


def test_marked_puts_more_buffered_before_each_output_that_others_follow() -> None:
    assert marked(["a"], more=False) == ["a"]
    assert marked([], more=True) == []
    assert marked(["a", "b"], more=False) == [MORE_BUFFERED, "a", "b"]
    assert marked(["a", "b"], more=True) == [MORE_BUFFERED, "a", MORE_BUFFERED, "b"]
    start = StreamStart("m")  # nothing is written for it: nothing to hold
    assert marked([start, "a"], more=True) == [start, MORE_BUFFERED, "a"]
    assert marked([start, "a"], more=False) == [start, "a"]
    assert marked(["a", start], more=False) == [MORE_BUFFERED, "a", start]


def test_lf_only_streams_decode_as_crlf_streams_do() -> None:
    """Streams with ``\\n`` line ends only take a faster path than those with ``\\r``; both must
    read every mix of fields, comments and blank lines alike, cut anywhere."""
    lines = ["data: a", "data:b", 'data: {"x": 1}', "event: ping", "event:", ": note", "id: 3", "", "", "data"]
    lines += ["data: ", "other: x", "data:  two spaces", "é data: ü"]
    for seed in range(2000):
        rng = random.Random(seed)
        text = "\n".join(rng.choice(lines) for _ in range(rng.randint(0, 12))) + rng.choice(["", "\n"])
        piece = rng.randint(1, 40)
        lf = decode(text.encode(), piece)
        crlf = decode(text.replace("\n", "\r\n").encode(), piece)
        assert lf == crlf, text
