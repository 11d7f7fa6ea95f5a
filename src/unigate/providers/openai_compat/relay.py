"""Relaying an OpenAI-compatible upstream's stream to an OpenAI chat client as the upstream wrote it.

Decoding every ``chat.completion.chunk`` event into a canonical delta only for the OpenAI chat
renderer to encode it again is most of what a stream costs the gateway. An event that decoding
and rendering would turn back into itself can go to that client as received instead. ``ChunkRelay``
finds those events by checking that each is exactly the one shape below, never by looking for
shapes known to be harmful: an event of any other shape, known or not, is decoded.

**The envelope.** The stream's first ``data:`` event is always decoded. Its bytes from ``data: {``
to ``"choices":[`` are its *envelope*, parsed once (``envelope_of``) to check that they hold ``id``
(a string), ``object`` (``chat.completion.chunk``), ``created`` (an integer) and ``model`` (not
empty: the name the stream reports), and otherwise only members in ``PASSED_ON`` (``usage`` only
as ``null``). A stream whose first event has another envelope is decoded whole.

**The relayed shape.** A later event is relayed when its bytes are exactly::

    <the envelope>{"index":0,"delta":{"content":<text>},"logprobs":null,"finish_reason":null}]<more>}

and the blank line, where ``<text>`` is a non-empty JSON string (valid escapes, no control
character, no surrogate escape) and ``<more>`` is ``,"usage":null`` or ``PASSED_ON`` members with
a string (without escapes) or ``null`` value, and the run of relayed events is valid UTF-8. A
prefix comparison checks the envelope and one compiled pattern the rest (``_CHOICE``); the events
are not parsed. Such an event decodes to ``ChoiceDelta(0, content=<text>)`` and nothing else (no
finish, no usage, no error; the stream's own id, created and model), which the OpenAI chat
renderer writes as these same members with its own ``id`` and ``created``, with ``role`` first
in the ``delta`` of the choice's first chunk. Those are the only rewrites it makes
(``Envelope.with_ids``, ``RelayedChunks.rewritten``), and what a client reads differs from the
canonical path's chunks only by the passed-on members, which that path has no field for.

**What is decoded.** In each upstream read, the events before the first one of another shape are
relayed (with the keep-alive comment lines among them), and the rest of the read is decoded. Every
event is decoded once a choice finished (``decode_all``: the decoder skips repeats of a finished
choice, which a byte check cannot see), and so is every event of a stream with ``\\r`` line ends.
An upstream quirk is thus decoded, slower and never wrong, until the relay is taught its shape
here; ``tests/providers/test_openai_relay_differential.py`` replays every recorded stream through
both paths and fails when a client would read different events.
"""

from __future__ import annotations

import re
from typing import cast

import orjson

from unigate.core.results import ChoiceDelta, Passthrough
from unigate.primitives.records import record
from unigate.providers.sse import SseDecoder, SseEvent

__all__ = ["DELTA_OPEN", "PASSED_ON", "ChunkRelay", "Envelope", "RelayedChunks", "envelope_of"]

PASSED_ON = frozenset({"obfuscation", "service_tier", "system_fingerprint", "usage"})
"""Members of a relayed event that reach the client as the upstream wrote them, although the
canonical path has no field for them (OpenAI's own ``service_tier``, ``system_fingerprint`` and
``obfuscation``); ``usage`` only as ``null``."""

_REQUIRED = frozenset({"id", "object", "created", "model"})
_KNOWN = _REQUIRED | PASSED_ON

DELTA_OPEN = b'{"index":0,"delta":{'
"""How the one choice of every relayed event starts, right after the envelope."""

_STRING = rb'"(?!")[^"\\\x00-\x1f]*+(?:\\(?:["\\/bfnrt]|u(?![dD][89a-fA-F])[0-9a-fA-F]{4})[^"\\\x00-\x1f]*+)*+"'
_MORE = rb'(?:,"(?:usage":null|(?:%s)":(?:null|"[^"\\\x00-\x1f]*+")))*+' % b"|".join(
    re.escape(key.encode()) for key in sorted(PASSED_ON - {"usage"})
)
_CHOICE = re.compile(
    re.escape(DELTA_OPEN)
    + rb'"content":('
    + _STRING
    + rb')\},"logprobs":null,"finish_reason":null\}\]'
    + _MORE
    + rb"\}\n\n"
)
"""What follows the envelope in a relayed event; its group is the text as a JSON string."""


def _id_member(value: str) -> bytes:
    return b'"id":' + orjson.dumps(value)


def _created_member(value: int) -> bytes:
    return b'"created":%d,' % value


@record
class Envelope:
    """What every relayed event of one stream starts with (see the module)."""

    prefix: bytes
    """``data: {``, the members before ``"choices":[`` in the stream's first event, ``"choices":[``."""
    id_member: bytes
    """``"id":<the upstream's id>`` as it appears in ``prefix``, once."""
    created_member: bytes
    """``"created":<the upstream's created>,`` as it appears in ``prefix``, once."""

    def with_ids(self, completion_id: str, created: int) -> bytes:
        """``prefix`` with this ``id`` and ``created`` in place of the upstream's."""
        return self.prefix.replace(self.id_member, _id_member(completion_id), 1).replace(
            self.created_member, _created_member(created), 1
        )


def envelope_of(raw: bytes) -> Envelope | None:
    """The envelope of a stream whose first event is ``raw`` (the whole event, its blank line
    included), or ``None`` if the events of that stream cannot be relayed."""
    cut = raw.find(b'"choices":[')
    if cut < 0 or not raw.startswith(b"data: {") or raw.count(b"\n") != 2:
        return None  # not one ``data:`` line holding the choices
    head = raw[6:cut]  # ``{`` and every member before the choices, each with its comma
    if not head.endswith(b","):
        return None
    try:
        members = orjson.loads(head[:-1] + b"}")
    except orjson.JSONDecodeError:
        return None
    if not isinstance(members, dict) or not (_REQUIRED <= members.keys() <= _KNOWN):
        return None
    upstream_id, created, model = members["id"], members["created"], members["model"]
    if not (type(upstream_id) is str and type(created) is int and type(model) is str and model):
        return None
    if members["object"] != "chat.completion.chunk" or members.get("usage") is not None:
        return None
    for key in PASSED_ON:
        value = members.get(key)
        if value is not None and type(value) is not str:
            return None
    id_member, created_member = _id_member(upstream_id), _created_member(created)
    if head.count(id_member) != 1 or head.count(created_member) != 1:
        return None  # written another way than ours (escapes): the rewrite could not find them
    return Envelope(raw[: cut + len(b'"choices":[')], id_member, created_member)


@record
class RelayedChunks(Passthrough):
    """Events of the relayed shape (see the module), as the upstream sent them: ``lead``, then each
    event's envelope (``envelope.prefix``) and ``tails``."""

    lead: bytes
    """The comment lines before the first event (most often none)."""
    tails: tuple[bytes, ...]
    """Each event after its envelope: its one choice and the rest, then the comment lines after it."""
    texts: tuple[bytes, ...]
    """Each event's ``content``, as the JSON string the upstream wrote."""
    envelope: Envelope

    @property
    def count(self) -> int:
        return len(self.texts)

    @property
    def data(self) -> bytes:
        """The events as received."""
        return self.envelope.prefix.join((self.lead, *self.tails))

    def rewritten(self, envelope: bytes, *, opening: bytes = b"") -> bytes:
        """The events with ``envelope`` in place of the upstream's (``Envelope.with_ids``), and
        ``opening`` (members ending with a comma) first in the first event's ``delta``."""
        tails = self.tails
        if opening:
            tails = (DELTA_OPEN + opening + tails[0][len(DELTA_OPEN) :], *tails[1:])
        return envelope.join((self.lead, *tails))

    def deltas(self) -> tuple[ChoiceDelta, ...]:
        return tuple(ChoiceDelta(0, cast(str, orjson.loads(text))) for text in self.texts)

    def text_bytes(self) -> int:
        """The UTF-8 bytes of the texts, as decoding them would count."""
        joined = b"".join(self.texts)
        if b"\\" not in joined:
            return len(joined) - 2 * len(self.texts)  # without escapes a JSON string is its text in quotes
        return sum(len(cast(str, orjson.loads(text)).encode()) for text in self.texts)


class ChunkRelay:
    """Splits an upstream's reads into relayed events and events to decode (see the module)."""

    def __init__(self) -> None:
        self._sse = SseDecoder()
        self._pending = b""
        self._envelope: Envelope | None = None
        self._started = False
        """Whether the stream's first ``data:`` event came."""
        self._decode_all = False

    def decode_all(self) -> None:
        """Decode every event from now on (the adapter asks once a choice has finished)."""
        self._decode_all = True

    def feed(self, chunk: bytes) -> list[RelayedChunks | SseEvent]:
        """What ``chunk`` completes, in order."""
        buffer = self._pending + chunk if self._pending else chunk
        if self._decode_all or b"\r" in buffer:
            self._decode_all = True  # \r\n line ends: the events' boundaries are not b"\n\n"
            self._pending = b""
            return list(self._sse.feed(buffer))
        end = buffer.rfind(b"\n\n")
        if end < 0:
            self._pending = buffer
            return []
        whole, self._pending = buffer[: end + 2], buffer[end + 2 :]
        out: list[RelayedChunks | SseEvent] = []
        while not self._started and whole:
            cut = whole.index(b"\n\n") + 2
            events = self._sse.feed(whole[:cut])
            if events:
                self._started = True
                self._envelope = envelope_of(whole[:cut])
                self._decode_all = self._envelope is None
            out += events
            whole = whole[cut:]
        if whole:
            envelope = self._envelope
            if envelope is None or self._decode_all:
                out += self._sse.feed(whole)
            else:
                out += self._relayed_then_decoded(whole, envelope)
        return out

    def close(self) -> list[SseEvent]:
        """At the end of the body: what was left unfinished, decoded."""
        pending, self._pending = self._pending, b""
        return [*self._sse.feed(pending), *self._sse.close()]

    def _relayed_then_decoded(self, whole: bytes, envelope: Envelope) -> list[RelayedChunks | SseEvent]:
        """The run of relayed events that ``whole`` starts with, if any, then the rest decoded."""
        prefix = envelope.prefix
        skip = len(prefix)
        match = _CHOICE.match
        tails: list[bytes] = []
        texts: list[bytes] = []
        lead = tail = -1  # where the first event starts, where the last one's tail does
        pos, size = 0, len(whole)
        while pos < size:
            if whole.startswith(prefix, pos):
                found = match(whole, pos + skip)
                if found is None:
                    break
                if tail < 0:
                    lead = pos
                else:
                    tails.append(whole[tail:pos])
                tail = pos + skip
                texts.append(found[1])
                pos = found.end()
            elif whole.startswith(b":", pos) and whole.startswith(b"\n\n", line_end := whole.index(b"\n", pos)):
                pos = line_end + 2  # a comment line: it goes on with the events around it
            else:
                break
        if texts and not whole.isascii():
            try:
                whole[:pos].decode()
            except UnicodeDecodeError:
                texts = []  # the decoder replaces what is not UTF-8
        if not texts:
            return list(self._sse.feed(whole))
        tails.append(whole[tail:pos])
        out: list[RelayedChunks | SseEvent] = [RelayedChunks(whole[:lead], tuple(tails), tuple(texts), envelope)]
        if pos < size:
            out += self._sse.feed(whole[pos:])
        return out
