"""The JSON-Schema-to-GBNF converter: exact on what it supports, loud about the rest."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from unigate.providers.local import LocalProvider
from unigate.providers.local.grammar import SchemaNotSupported, grammar_for, tool_call_prefix


def as_regex(grammar: str, rule: str = "root") -> re.Pattern[str]:
    """Translate a non-recursive grammar made of literals, classes and groups into a regex."""
    rules = dict(line.split(" ::= ", 1) for line in grammar.splitlines())

    def expand(body: str) -> str:
        out = []
        for token in re.findall(r'"(?:\\.|[^"\\])*"|\[(?:\\.|[^\]\\])*\]|\{[0-9,]*\}|[a-z0-9-]+|[()|*+?]', body):
            if token.startswith('"'):
                out.append(re.escape(json.loads(token)))
            elif token.startswith("[") or token[0] in "(){|*+?":
                out.append(token)
            else:
                out.append("(?:" + expand(rules[token]) + ")")
        return "".join(out)

    return re.compile(expand(rules[rule]))


@pytest.mark.parametrize(
    ("schema", "good", "bad"),
    [
        ({"type": "integer", "minimum": 18, "maximum": 99}, ["18", "57", "99"], ["17", "100", "018", "-20", "5"]),
        ({"type": "integer", "minimum": -12, "maximum": 3}, ["-12", "-1", "0", "3"], ["-13", "4", "-0"]),
        ({"type": "integer", "exclusiveMinimum": 0}, ["1", "9", "123456"], ["0", "-1"]),
        ({"type": "number", "minimum": 0, "maximum": 2}, ["0", "1.5", "2", "0.25"], ["2.5", "-1", "3"]),
        ({"enum": ["a", 1, None]}, ['"a"', "1", "null"], ['"b"', "2"]),
        ({"type": "string", "maxLength": 3}, ['""', '"abc"', '"a\\nb"'], ['"abcd"', '"a\nb"']),
        ({"type": "string", "format": "date"}, ['"2024-02-29"'], ['"2024-13-01"', '"today"']),
        ({"type": "array", "items": {"type": "boolean"}, "minItems": 1, "maxItems": 2},
         ["[true]", "[true, false]", "[true,false]"], ["[]", "[true,true,true]", "[true,  false]"]),
        ({"type": "object", "properties": {"a": {"type": "null"}, "b": {"type": "null"}}},
         ["{}", '{"a": null}', '{"b":null}', '{"a":null, "b":null}'], ['{"b":null,"a":null}', '{"c":null}']),
    ],
)  # fmt: skip
def test_schema_grammar_accepts_exactly_the_schema(schema: dict[str, Any], good: list[str], bad: list[str]) -> None:
    pattern = as_regex(grammar_for(content=schema))
    for text in good:
        assert pattern.fullmatch(text), text
    for text in bad:
        assert not pattern.fullmatch(text), text


def test_tool_call_grammar_is_compact_and_exact() -> None:
    tools = [("get_time", {"type": "object", "properties": {"tz": {"enum": ["utc"]}}, "required": ["tz"]})]
    pattern = as_regex(grammar_for(tools=tools))
    assert tool_call_prefix("get_time") == '{"name":"get_time","arguments":'
    assert pattern.fullmatch('{"name":"get_time","arguments":{"tz":"utc"}}')
    assert not pattern.fullmatch('{"name": "get_time", "arguments": {"tz": "utc"}}')
    assert not pattern.fullmatch('{"name":"get_date","arguments":{"tz":"utc"}}')


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "string", "pattern": "^a$"},
        {"allOf": [{"type": "string"}]},
        {"type": "object", "properties": {"a": {"not": {}}}},
        {"$ref": "#/$defs/missing"},
        {"$ref": "other.json"},
        {"type": "object", "required": ["a"], "additionalProperties": False},
        {"type": "array", "maxItems": 1, "minItems": 2},
        {"enum": ["a"], "type": "integer"},
        False,
    ],
)
def test_unsupported_schemas_raise(schema: Any) -> None:
    with pytest.raises(SchemaNotSupported):
        grammar_for(content=schema)


def test_recursive_refs_compile() -> None:
    tree = {
        "$defs": {"n": {"type": "object", "properties": {"kids": {"type": "array", "items": {"$ref": "#/$defs/n"}}}}}
    }
    grammar = grammar_for(content={**tree, "$ref": "#/$defs/n"})
    assert "ref-defs-n ::=" in grammar


def test_grammars_are_cached() -> None:
    schema = {"type": "object", "properties": {"x": {"type": "integer"}}}
    assert grammar_for(content=schema) is grammar_for(content=json.loads(json.dumps(schema)))


@pytest.mark.model
def test_llama_cpp_parses_our_grammars(local: LocalProvider) -> None:
    engine = local._engine
    schemas: list[Any] = [
        {"type": "object"},
        {
            "type": "object",
            "properties": {"a": {"type": ["string", "null"], "format": "date-time"}, "b": {"type": "number"}},
        },
        {
            "type": "array",
            "prefixItems": [{"type": "integer"}, {"const": {"k": [1, "é\n"]}}],
            "items": {"format": "uuid"},
        },
        {"anyOf": [{"type": "integer", "maximum": -5}, {"type": "string", "minLength": 2}]},
    ]
    for schema in schemas:
        assert engine.grammar_parses(grammar_for(content=schema)), schema
    assert engine.grammar_parses(grammar_for(content={"type": "object"}, tools=[("f", {"type": "object"})]))
    assert not engine.grammar_parses("root ::= undefined-rule")
