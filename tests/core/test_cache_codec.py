"""The cache's encoding of answers and streams: what goes in comes back, of the same classes."""

from __future__ import annotations

import pytest

from unigate.core.cache_codec import ReplayedDeltas, decode_events, decode_result, encode_events, encode_result
from unigate.core.chat import ToolCall
from unigate.core.results import (
    MORE_BUFFERED,
    ChatResult,
    Choice,
    ChoiceDelta,
    StreamEvent,
    StreamStart,
    TokenLogprob,
    ToolCallDelta,
    TopLogprob,
    UrlCitation,
    Usage,
)


def test_a_result_comes_back_whole() -> None:
    logprob = TokenLogprob("hi", -0.1, (104, 105), (TopLogprob("hi", -0.1, (104, 105)),))
    result = ChatResult(
        "m-1",
        [
            Choice(0, "hi", "stop", logprobs=(logprob,), annotations=(UrlCitation("https://x", "x", 0, 2),)),
            Choice(1, None, "tool_calls", tool_calls=(ToolCall("c1", "f", '{"a":1}'),), reasoning="r"),
        ],
        Usage(3, 4, None, 1, 2),
        "fp",
    )
    assert decode_result(encode_result(result)) == result


def test_a_stream_comes_back_event_for_event_and_relayed_chunks_as_their_deltas() -> None:
    events: list[StreamEvent] = [
        StreamStart("m-1"),
        MORE_BUFFERED,
        ChoiceDelta(0, "a"),
        ReplayedDeltas((ChoiceDelta(0, "b"), ChoiceDelta(0, "c"))),
        ChoiceDelta(0, tool_calls=(ToolCallDelta(0, "c1", "f", "{}"),), finish_reason="tool_calls"),
        Usage(1, 3),
    ]
    back = decode_events(encode_events(events))
    assert back == events
    assert isinstance(back[3], ReplayedDeltas)
    assert back[3].count == 2


def test_an_entry_names_only_known_classes() -> None:
    with pytest.raises(ValueError, match="not a cached answer"):
        decode_result(b'{"t": "Settings", "x": 1}')
