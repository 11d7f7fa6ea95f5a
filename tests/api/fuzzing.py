"""The body generator of the fuzz test (``test_fuzz.py``): any JSON shape, wrong types at every
depth, and mutations of valid bodies, encoded as the route reads them (JSON, a multipart form
with files, or a URL-encoded form).

A seeded ``random.Random``, not hypothesis: the run is the same on every machine (CI reproduces a
failure from its printed body), and 10,000 requests fit in the time budget only without
hypothesis' per-example bookkeeping. Field names and values come from the endpoints' own wire
schemas and from the valid bodies, so that mutations reach deep into the validators.
"""

from __future__ import annotations

import io
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlencode

import orjson
from aiohttp import FormData
from pydantic import BaseModel

from unigate.catalog.builtin import FAKE_MODEL_ID
from unigate.providers.fake_media import png, wav_header

Encoding = Literal["json", "multipart", "form"]

WAV = wav_header(1600) + b"\x00\x00" * 1600
"""A tenth of a second of silence: a file every transcription model can read."""
PNG = png(4, 4)
FILES: list[tuple[str, bytes, str]] = [
    ("a.wav", WAV, "audio/wav"),
    ("in.png", PNG, "image/png"),
    ("x.bin", b"\x00\x01not a file", "application/octet-stream"),
    ("", b"", "text/plain"),
    ("song.mp3", b"ID3" + b"\xff" * 40, "audio/mpeg"),
]
FILE_FIELDS = ["file", "image", "image[]", "audio", "mask", "input_reference"]


@dataclass(frozen=True)
class Body:
    """A body to send: fields (any JSON value for JSON bodies) and, for a multipart form, files
    by field name."""

    encoding: Encoding
    fields: Any
    files: tuple[tuple[str, tuple[str, bytes, str]], ...] = ()

    def payload(self) -> tuple[bytes | FormData, dict[str, str]]:
        """The request's data and its content type header (a multipart one is FormData's)."""
        if self.encoding == "json":
            return orjson.dumps(self.fields), {"content-type": "application/json"}
        pairs = list(_form_pairs(self.fields))
        if self.encoding == "form":
            return urlencode(pairs).encode(), {"content-type": "application/x-www-form-urlencoded"}
        form = FormData(default_to_multipart=True)  # multipart even without a file
        for name, value in pairs:
            form.add_field(name, value)
        for name, (filename, data, content_type) in self.files:
            # A file without a name is a part without ``filename``: the server reads a field.
            form.add_field(name, io.BytesIO(data), filename=filename or None, content_type=content_type)
        return form, {}

    def show(self) -> str:
        files = [(n, f[0], len(f[1])) for n, f in self.files]
        return f"{self.encoding} {orjson.dumps(self.fields).decode()}" + (f" files={files}" if files else "")


def _form_pairs(fields: Any) -> Iterable[tuple[str, str]]:
    """A form's fields as text: scalars as they print, a list as a repeated field, an object as
    its JSON (how clients send nested values in a form); a body that is no object is one field."""
    if not isinstance(fields, dict):
        yield ("body", _text(fields))
        return
    for name, value in fields.items():
        for item in value if isinstance(value, list) else [value]:
            yield (str(name), _text(item))


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return orjson.dumps(value).decode()
    if isinstance(value, (int, float)):
        return str(value)
    return orjson.dumps(value).decode()


@dataclass
class Vocabulary:
    names: list[str] = field(default_factory=list)
    values: list[Any] = field(default_factory=list)

    @classmethod
    def of(cls, schemas: Iterable[type[BaseModel]], bodies: Iterable[Any]) -> Vocabulary:
        """Every property name and enum or const value of ``schemas``, and every key and scalar of
        the valid ``bodies``."""
        names: set[str] = set()
        packed: set[bytes] = set()

        def walk_schema(node: Any) -> None:
            if isinstance(node, dict):
                names.update(k for k in node.get("properties", {}) if isinstance(k, str))
                packed.update(orjson.dumps(v) for v in node.get("enum", ()))
                if "const" in node:
                    packed.add(orjson.dumps(node["const"]))
                for v in node.values():
                    walk_schema(v)
            elif isinstance(node, list):
                for v in node:
                    walk_schema(v)

        def walk_body(node: Any) -> None:
            if isinstance(node, dict):
                names.update(node)
                for v in node.values():
                    walk_body(v)
            elif isinstance(node, list):
                for v in node:
                    walk_body(v)
            elif len(orjson.dumps(node)) < 200:
                packed.add(orjson.dumps(node))

        for schema in schemas:
            walk_schema(schema.model_json_schema(mode="validation"))
        for body in bodies:
            walk_body(body)
        return cls(sorted(names), [orjson.loads(v) for v in sorted(packed)])


class Generator:
    def __init__(self, seed: int, vocabulary: Vocabulary) -> None:
        self.rng = random.Random(seed)
        self.names = vocabulary.names
        self.values = vocabulary.values

    def scalar(self) -> Any:
        rng = self.rng
        return rng.choice(
            [
                None,
                True,
                False,
                0,
                -1,
                1,
                2**31,
                2**63 - 1,
                2**64 - 1,
                -(2**63),
                rng.randint(-5, 70000),
                0.5,
                -0.0,
                1e308,
                -1e-308,
                "",
                "x",
                "\u0000",
                "é" * rng.randint(1, 5),
                "²",  # a digit to str.isdigit, not to int()
                "4x²",
                "data:image/png;base64,iVBOR",
                FAKE_MODEL_ID,
                rng.choice(self.names),
                rng.choice(self.values),
                rng.choice(self.values),
            ]
        )

    def value(self, depth: int) -> Any:
        kind = self.rng.random()
        if depth <= 0 or kind < 0.5:
            return self.scalar()
        if kind < 0.75:
            return [self.value(depth - 1) for _ in range(self.rng.randint(0, 3))]
        return {self.rng.choice(self.names): self.value(depth - 1) for _ in range(self.rng.randint(0, 4))}

    def mutate(self, body: Any, edits: int) -> Any:
        body = orjson.loads(orjson.dumps(body))
        for _ in range(edits):
            body = self._edit(body, top=True)
        return body

    def _edit(self, node: Any, *, top: bool = False) -> Any:
        """One change at a random depth: replace, drop, add or wrap a value."""
        rng = self.rng
        children = (
            list(node.items()) if isinstance(node, dict) else list(enumerate(node)) if isinstance(node, list) else []
        )
        # Rarely the whole body: replacing it tests only that a body must be an object.
        if children and rng.random() < (0.95 if top else 0.6):
            k, child = rng.choice(children)
            node[k] = self._edit(child)
            return node
        roll = rng.random()
        if isinstance(node, dict) and children and roll < 0.25:
            del node[rng.choice(children)[0]]
            return node
        if isinstance(node, dict) and roll < 0.5:
            node[rng.choice(self.names)] = self.value(3)
            return node
        if roll < 0.6:
            return [node]
        # Mostly one scalar, often of the schemas' own values, so that many bodies stay valid
        # enough to pass the validators and reach the translation and the gateway behind them.
        return self.scalar() if roll < 0.85 else self.value(3)

    def fields(self, valid: list[Any], others: list[Any]) -> Any:
        roll = self.rng.random()
        if valid and roll < 0.65:
            return self.mutate(self.rng.choice(valid), self.rng.choice((1, 1, 2, 3)))
        if roll < 0.75:
            return self.mutate(self.rng.choice(others), 1)  # another endpoint's shape
        if roll < 0.97:
            return {self.rng.choice(self.names): self.value(4) for _ in range(self.rng.randint(0, 6))}
        return self.value(3)

    def body(self, valid: list[Body], others: list[Any], encodings: tuple[Encoding, ...]) -> Body:
        """A body in one of the route's ``encodings``: most often a mutation of one of its valid
        bodies (their files kept or changed), else another endpoint's shape or any shape."""
        encoding = self.rng.choice(encodings)
        same = [b for b in valid if b.encoding == encoding]
        fields = self.fields([b.fields for b in same], others)
        if encoding != "multipart":
            return Body(encoding, fields)
        files = self.rng.choice(same).files if same and self.rng.random() < 0.7 else ()
        if not files or self.rng.random() < 0.3:
            count = self.rng.randint(0, 2)
            files = tuple((self.rng.choice(FILE_FIELDS), self.rng.choice(FILES)) for _ in range(count))
        return Body(encoding, fields, files)
