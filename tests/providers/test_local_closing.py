"""Closing a constrained value within its token budget (issue 22, item 2), without the model: the
grammar's rules read back from GBNF, the shortest completion of every prefix, and the ``Closer``
fed a known text token by token, with a tokenizer of one token per character."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from unigate.catalog.spec import ModelSpec
from unigate.core.chat import JsonSchemaFormat
from unigate.errors import UnsupportedParameter
from unigate.providers.local import LocalProvider
from unigate.providers.local.closing import Closer, shortest_completion, shortest_value
from unigate.providers.local.grammar import grammar_for

from .conftest import Ask

NESTED: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 2},
        "address": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "maxLength": 10},
                "zip": {"type": "integer", "minimum": 1000, "maximum": 99999},
                "since": {"type": "string", "format": "date"},
            },
            "required": ["city", "zip"],
        },
        "tags": {"type": "array", "items": {"enum": ["a", "bb"]}, "minItems": 1, "maxItems": 3},
        "score": {"type": "number", "minimum": -5, "maximum": 5},
    },
    "required": ["name", "address", "tags"],
    "additionalProperties": False,
}
TREE: dict[str, Any] = {
    "$defs": {
        "node": {
            "type": "object",
            "properties": {"v": {"type": "integer"}, "kids": {"type": "array", "items": {"$ref": "#/$defs/node"}}},
            "required": ["v", "kids"],
        }
    },
    "anyOf": [{"$ref": "#/$defs/node"}, {"type": "null"}],
}
WEATHER: dict[str, Any] = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "unit": {"enum": ["celsius", "fahrenheit"]}},
    "required": ["city", "unit"],
}
CASES: list[tuple[str, Any, str]] = [
    ("json_object", {"type": "object"}, '{"name": "Tom \\"T\\" \\u00e9\\n", "n": [1.5e3, -0, true, null, {"a": {}}]}'),
    (
        "nested",
        NESTED,
        '{"name": "Ann", "address": {"city": "Köln", "zip": 50667, "since": "2020-02-29"}, '
        '"tags": ["bb", "a"], "score": 4.25}',
    ),
    ("recursive", TREE, '{"v": 1, "kids": [{"v": -20, "kids": []}, {"v": 3, "kids": [{"v": 4, "kids": []}]}]}'),
]


def close(grammar: str, prefix: str) -> str:
    """``prefix`` and its shortest completion."""
    completion = shortest_completion(grammar, prefix)
    assert completion is not None, f"the rules reject {prefix!r}"
    return prefix + completion


def completions(grammar: str, text: str) -> list[str]:
    """``text[:i]`` plus its shortest completion, for every ``i``."""
    assert close(grammar, text) == text  # the whole text is accepted as it is
    return [close(grammar, text[:i]) for i in range(len(text) + 1)]


@pytest.mark.parametrize(("name", "schema", "text"), CASES)
def test_every_prefix_completes_to_a_valid_value(name: str, schema: Any, text: str) -> None:
    validator = Draft202012Validator(schema)
    assert validator.is_valid(json.loads(text))
    for completed in completions(grammar_for(content=schema), text):
        assert validator.is_valid(json.loads(completed)), completed


def test_shortest_values_fill_required_properties_minimally() -> None:
    assert shortest_value(grammar_for(content={"type": "object"})) == "{}"
    assert shortest_value(grammar_for(content=NESTED)) == '{"name":"aa","address":{"city":"","zip":1000},"tags":["a"]}'
    assert shortest_value(grammar_for(content=TREE)) == "null"
    calls = grammar_for(tools=[("get_weather", WEATHER), ("ping", {"type": "object"})])
    assert shortest_value(calls) == '{"name":"ping","arguments":{}}'
    assert close(calls, '{"name":"get_weather","arguments":{"ci') == (
        '{"name":"get_weather","arguments":{"city":"","unit":"celsius"}}'
    )


def test_prefixes_close_in_the_value_they_began() -> None:
    grammar = grammar_for(content=NESTED)
    assert close(grammar, '{"name": "A') == '{"name": "Aa","address":{"city":"","zip":1000},"tags":["a"]}'
    ann = '{"name": "Ann", "address": {"city": "K", "zip": 1'
    assert close(grammar, ann) == ann + '000},"tags":["a"]}'
    assert close(grammar_for(content={"type": "object"}), '{"a": [1, {"b": tr') == '{"a": [1, {"b": true}]}'


def run_closer(grammar: str, text: str, *, limit: int, step: int) -> tuple[str, bool, int]:
    """Feed ``text`` in tokens of ``step`` characters until the closer stops it or the budget is
    spent, as the batch worker does; returns (output, closed, tokens used). Token ids are code
    points: the fake tokenizer takes one token per character."""

    def tokenize(s: str) -> list[int]:
        return [ord(c) for c in s]

    closer = Closer(grammar, limit=limit, tokenize=tokenize)
    assert closer.active
    out, used = "", 0
    pieces = [text[i : i + step] for i in range(0, len(text), step)]
    for piece in pieces:
        used += 1
        if not closer.keep(piece.encode(), room=limit - used):
            used -= 1
            while (token := closer.next_forced()) is not None:
                out += chr(token)
                used += 1
            assert closer.complete
            return out, True, used
        out += piece
        if used == limit:
            break
    return out, closer.complete, used


@pytest.mark.parametrize(("name", "schema", "text"), CASES)
@pytest.mark.parametrize("step", [1, 3])
def test_the_closer_keeps_every_budget(name: str, schema: Any, text: str, step: int) -> None:
    grammar = grammar_for(content=schema)
    validator = Draft202012Validator(schema)
    shortest = len(shortest_value(grammar))
    for limit in range(shortest, len(text) // step + 2):
        out, closed, used = run_closer(grammar, text, limit=limit, step=step)
        assert used <= limit
        assert closed
        assert validator.is_valid(json.loads(out)), (limit, out)
    # given room, nothing is forced: the text comes out whole
    assert run_closer(grammar, text, limit=len(text), step=step) == (text, True, -(-len(text) // step))


def test_a_budget_below_the_shortest_value_leaves_the_closer_inactive() -> None:
    closer = Closer(grammar_for(content=NESTED), limit=10, tokenize=lambda s: list(range(len(s))))
    assert not closer.active
    assert closer.keep(b'{"', room=0)


def test_a_partial_character_is_dropped_with_the_closing() -> None:
    grammar = grammar_for(content={"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]})
    closer = Closer(grammar, limit=9, tokenize=lambda s: [ord(c) for c in s])
    used = 0
    for byte in b'{"a":"' + "é".encode()[:1]:  # the first byte fits: '"}' still closes it
        used += 1
        assert closer.keep(bytes([byte]), room=9 - used)
    assert not closer.keep("é".encode()[1:], room=9 - used - 1)
    forced = ""
    while (token := closer.next_forced()) is not None:
        forced += chr(token)
    assert forced == '"}'  # after '{"a":"', the half character left out (TextStream.drop_partial)
    assert closer.complete


def test_a_prefix_outside_the_grammar_has_no_completion() -> None:
    assert shortest_completion(grammar_for(content=NESTED), '{"x') is None
    assert shortest_completion(grammar_for(content=NESTED), '{"name": 1') is None


def test_a_schema_without_finite_values_is_refused(spec: ModelSpec, ask: Ask) -> None:
    endless = {"type": "object", "properties": {"next": {"$ref": "#"}}, "required": ["next"]}
    provider = LocalProvider(model_path=Path("not-loaded.gguf"))  # checks run before the model loads
    with pytest.raises(UnsupportedParameter) as caught:
        provider.check(ask("x", response_format=JsonSchemaFormat("s", endless)), spec)
    assert caught.value.param == "response_format.json_schema.schema"
