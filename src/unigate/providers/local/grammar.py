"""llama.cpp GBNF grammars that hold the local model to JSON, a JSON Schema or a tool call.

The converter is ours rather than ``llama_cpp.llama_grammar.json_schema_to_gbnf``: the copy in
llama-cpp-python 0.3.36 ignores integer bounds, lets raw control characters into strings (which is
invalid JSON) and silently drops keywords it does not know, so its output could fail validation.
This one covers a documented subset exactly and raises ``SchemaNotSupported`` for the rest:

- ``type`` (one or a list), ``enum``, ``const``, ``anyOf``, ``oneOf`` (as ``anyOf``; the provider
  validates the result), local ``$ref`` (``#``, ``#/$defs/...``, recursion allowed);
- objects: ``properties``, ``required``, ``additionalProperties`` (declared properties only are
  generated when there are any, which every schema accepts);
- arrays: ``items``, ``prefixItems``, ``minItems``, ``maxItems``;
- strings: ``minLength``, ``maxLength``, ``format`` date / time / date-time / uuid;
- integers and numbers: ``minimum``, ``maximum``, ``exclusiveMinimum``, ``exclusiveMaximum``
  (numbers are generated on whole-number bounds, a subset of what the schema accepts).

Whitespace is at most one space after ``:`` and ``,`` (none at all in tool calls, so their
arguments come out compact): a small model cannot run away on blanks.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from jsonschema import Draft202012Validator

from unigate.providers.local.gbnf import int_range, literal, repeat

__all__ = ["SchemaNotSupported", "grammar_for", "tool_call_prefix"]

_UNSUPPORTED = frozenset(
    {
        "allOf", "not", "if", "then", "else", "pattern", "patternProperties", "propertyNames",
        "minProperties", "maxProperties", "dependentRequired", "dependentSchemas", "dependencies",
        "contains", "minContains", "maxContains", "uniqueItems", "multipleOf",
        "unevaluatedProperties", "unevaluatedItems", "$dynamicRef", "$recursiveRef",
    }
)  # fmt: skip
_OBJECT_KEYS = frozenset({"properties", "required", "additionalProperties"})
_ARRAY_KEYS = frozenset({"items", "prefixItems", "minItems", "maxItems"})
_STRING_KEYS = frozenset({"minLength", "maxLength", "format"})
_NUMBER_KEYS = frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"})
_VALIDATION_KEYS = (
    _UNSUPPORTED
    | _OBJECT_KEYS
    | _ARRAY_KEYS
    | _STRING_KEYS
    | _NUMBER_KEYS
    | {"type", "enum", "const", "anyOf", "oneOf", "$ref"}
)

_MAX_DIGITS = 15
"""Integers are at most 15 digits: beyond that a float64 reader would lose precision anyway."""
_LIMIT = 10**_MAX_DIGITS - 1

_CHAR = r'[^"\\\x7F\x00-\x1F] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F]{4})'
_INT = '"-"? ("0" | [1-9] [0-9]{0,14})'
_FRACTION = '"." [0-9]{1,15}'
_FORMATS = {
    "date": '[0-9]{4} "-" ("0" [1-9] | "1" [0-2]) "-" ("0" [1-9] | [12] [0-9] | "3" [01])',
    "time": '([01] [0-9] | "2" [0-3]) ":" [0-5] [0-9] ":" [0-5] [0-9] ("." [0-9]{1,6})? '
    '("Z" | [+-] ([01] [0-9] | "2" [0-3]) ":" [0-5] [0-9])',
    "uuid": ' "-" '.join(f"[0-9a-fA-F]{{{n}}}" for n in (8, 4, 4, 4, 12)),
}
_FORMATS["date-time"] = f'{_FORMATS["date"]} "T" {_FORMATS["time"]}'


class SchemaNotSupported(Exception):
    """The schema uses something this converter cannot enforce; the message says what."""


def tool_call_prefix(name: str) -> str:
    """The exact text a constrained tool call starts with, up to its arguments object."""
    return '{"name":' + json.dumps(name, ensure_ascii=False) + ',"arguments":'


def grammar_for(*, content: Any = None, tools: Sequence[tuple[str, Any]] = (), compact: bool = False) -> str:
    """A grammar whose root is the ``content`` schema and/or a call to one of ``tools``.

    ``tools`` are ``(name, parameters schema)`` pairs; a call is generated as
    ``{"name":"<name>","arguments":{...}}`` with no whitespace. ``compact`` drops the optional
    spaces from the content branch too. Compiled grammars are cached by their JSON text.
    """
    key = json.dumps({"content": content, "tools": [list(t) for t in tools], "compact": compact})
    return _compile(key)


@functools.lru_cache(maxsize=256)
def _compile(key: str) -> str:
    spec = json.loads(key)
    compiler = _Compiler()
    alternatives = []
    if spec["content"] is not None:
        alternatives.append(compiler.branch(spec["content"], "c", compact=spec["compact"]))
    for i, (name, parameters) in enumerate(spec["tools"]):
        arguments = compiler.branch(parameters, f"t{i}", compact=True)
        alternatives.append(f'{literal(tool_call_prefix(name))} {arguments} "}}"')
    if not alternatives:
        raise SchemaNotSupported("nothing to generate")
    compiler.rules["root"] = " | ".join(alternatives)
    return "\n".join(f"{name} ::= {body}" for name, body in compiler.rules.items())


class _Compiler:
    def __init__(self) -> None:
        self.rules: dict[str, str] = {}
        self._root: Any = None
        self._refs: dict[str, str] = {}
        self._compact = False

    def branch(self, schema: Any, prefix: str, *, compact: bool) -> str:
        self._root, self._refs, self._compact = schema, {}, compact
        if not compact:
            self.rules.setdefault("ws", '" "?')
        return self._visit(schema, prefix)

    @property
    def _comma(self) -> str:
        return '","' if self._compact else '"," ws'

    @property
    def _colon(self) -> str:
        return '":"' if self._compact else '":" ws'

    def _rule(self, hint: str, body: str) -> str:
        base = re.sub(r"[^a-zA-Z0-9]+", "-", hint).strip("-") or "r"
        name, i = base, 1
        while name in self.rules:
            i += 1
            name = f"{base}-{i}"
        self.rules[name] = body
        return name

    def _builtin(self, kind: str) -> str:
        """Generic JSON rules; ``value``/``object``/``array`` exist once per whitespace style."""
        suffix = "-c" if self._compact else ""
        if "value" + suffix not in self.rules:
            comma, colon = self._comma, self._colon
            self.rules.update(
                {
                    "char": _CHAR,
                    "string": '"\\"" char* "\\""',
                    "number": f"{_INT} ({_FRACTION})? ([eE] [-+]? [0-9]{{1,3}})?",
                    "integer": _INT,
                    "boolean": '"true" | "false"',
                    "null": '"null"',
                    f"value{suffix}": f"object{suffix} | array{suffix} | string | number | boolean | null",
                    f"object{suffix}": f'"{{" ( string {colon} value{suffix} '
                    f'( {comma} string {colon} value{suffix} )* )? "}}"',
                    f"array{suffix}": f'"[" ( value{suffix} ( {comma} value{suffix} )* )? "]"',
                }
            )
        return kind + suffix if kind in ("value", "object", "array") else kind

    def _visit(self, schema: Any, hint: str) -> str:
        if schema is True or (isinstance(schema, Mapping) and not _VALIDATION_KEYS & schema.keys()):
            return self._builtin("value")
        if not isinstance(schema, Mapping):
            raise SchemaNotSupported(f"{hint}: a schema that accepts nothing")
        unsupported = _UNSUPPORTED & schema.keys()
        if unsupported:
            raise SchemaNotSupported(f"the {sorted(unsupported)[0]!r} keyword is not supported")
        if "$ref" in schema:
            if _VALIDATION_KEYS & (schema.keys() - {"$ref"}):
                raise SchemaNotSupported("keywords beside $ref are not supported")
            return self._ref(str(schema["$ref"]))
        for union in ("anyOf", "oneOf"):
            if union in schema:
                if _VALIDATION_KEYS & (schema.keys() - {union}):
                    raise SchemaNotSupported(f"keywords beside {union} are not supported")
                alternatives = [self._visit(s, f"{hint}-{i}") for i, s in enumerate(schema[union])]
                return self._rule(hint, " | ".join(alternatives))
        if "const" in schema or "enum" in schema:
            return self._constants(schema, hint)
        types = schema.get("type")
        if types is None:
            types = _implied_types(schema)
            if not types:
                return self._builtin("value")
        if isinstance(types, str):
            types = [types]
        alternatives = [self._typed(str(t), schema, hint) for t in types]
        return alternatives[0] if len(alternatives) == 1 else self._rule(hint, " | ".join(alternatives))

    def _constants(self, schema: Mapping[str, Any], hint: str) -> str:
        values = [schema["const"]] if "const" in schema else list(schema["enum"])
        rest = {k: v for k, v in schema.items() if k not in ("const", "enum")}
        if _VALIDATION_KEYS & rest.keys():
            # {"type": "string", "enum": ["a", 1]} accepts only "a": keep what the rest accepts.
            validator = Draft202012Validator(rest)
            values = [v for v in values if validator.is_valid(v)]
        if not values:
            raise SchemaNotSupported(f"{hint}: no enum value satisfies the schema")
        literals = {literal(json.dumps(v, ensure_ascii=False, separators=(",", ":"))) for v in values}
        return self._rule(hint, " | ".join(sorted(literals)))

    def _typed(self, kind: str, schema: Mapping[str, Any], hint: str) -> str:
        if kind in ("null", "boolean"):
            return self._builtin(kind)
        if kind == "string":
            return self._string(schema, hint)
        if kind in ("integer", "number"):
            return self._number(kind, schema, hint)
        if kind == "object":
            return self._object(schema, hint)
        if kind == "array":
            return self._array(schema, hint)
        raise SchemaNotSupported(f"type {kind!r} is not supported")

    def _string(self, schema: Mapping[str, Any], hint: str) -> str:
        low, high = int(schema.get("minLength", 0)), schema.get("maxLength")
        if low == 0 and high is None:
            fmt = _FORMATS.get(str(schema.get("format")))
            if fmt is not None:
                return self._rule(hint, f'"\\"" {fmt} "\\""')
            return self._builtin("string")
        if high is not None and int(high) < low:
            raise SchemaNotSupported(f"{hint}: minLength is above maxLength")
        self._builtin("char")
        return self._rule(hint, f'"\\"" char{repeat(low, high)} "\\""')

    def _number(self, kind: str, schema: Mapping[str, Any], hint: str) -> str:
        if not _NUMBER_KEYS & schema.keys():
            return self._builtin(kind)
        low, high = -_LIMIT, _LIMIT
        bounded_above = "maximum" in schema or "exclusiveMaximum" in schema
        if "minimum" in schema:
            low = max(low, math.ceil(schema["minimum"]))
        if "exclusiveMinimum" in schema:
            low = max(low, math.floor(schema["exclusiveMinimum"]) + 1)
        if "maximum" in schema:
            high = min(high, math.floor(schema["maximum"]))
        if "exclusiveMaximum" in schema:
            high = min(high, math.ceil(schema["exclusiveMaximum"]) - 1)
        if low > high:
            raise SchemaNotSupported(f"{hint}: no whole number within the bounds")
        body = int_range(low, high)
        whole_high = high - 1 if bounded_above else high
        if kind == "number" and max(low, 0) <= whole_high:
            # k.xxx lies in [k, k+1), so a fraction is safe on whole parts in [max(low, 0), high - 1].
            body = f"{body} | {int_range(max(low, 0), whole_high)} {_FRACTION}"
        return self._rule(hint, body)

    def _object(self, schema: Mapping[str, Any], hint: str) -> str:
        properties: Mapping[str, Any] = schema.get("properties", {})
        required = [str(k) for k in schema.get("required", [])]
        extra = schema.get("additionalProperties", True)
        comma, colon = self._comma, self._colon
        if not properties and not required and extra is not False:
            value = self._visit(extra, f"{hint}-value")
            kv = f"{self._builtin('string')} {colon} {value}"
            return self._rule(hint, f'"{{" ( {kv} ( {comma} {kv} )* )? "}}"')
        mandatory: list[str] = []
        optional: list[str] = []
        for key in [*properties, *(k for k in required if k not in properties)]:
            if key in properties:
                sub = properties[key]
            elif extra is False:
                raise SchemaNotSupported(f"{hint}: required property {key!r} is not allowed")
            else:
                sub = extra
            value = self._visit(sub, f"{hint}-{key}")
            kv = self._rule(f"{hint}-{key}-kv", f"{literal(json.dumps(key, ensure_ascii=False))} {colon} {value}")
            (mandatory if key in required else optional).append(kv)
        inner = f" {comma} ".join(mandatory)
        if mandatory:
            inner += "".join(f" ( {comma} {kv} )?" for kv in optional)
        elif optional:
            chains = [
                " ".join([kv, *(f"( {comma} {later} )?" for later in optional[i + 1 :])])
                for i, kv in enumerate(optional)
            ]
            inner = "( " + " | ".join(chains) + " )?"
        return self._rule(hint, f'"{{" {inner} "}}"')

    def _array(self, schema: Mapping[str, Any], hint: str) -> str:
        prefix: Sequence[Any] = schema.get("prefixItems", [])
        low, high = int(schema.get("minItems", 0)), schema.get("maxItems")
        if high is not None and int(high) < max(low, len(prefix)):
            raise SchemaNotSupported(f"{hint}: maxItems is below minItems or prefixItems")
        parts = [self._visit(s, f"{hint}-{i}") for i, s in enumerate(prefix)]
        extra_low = max(0, low - len(prefix))
        extra_high = None if high is None else int(high) - len(prefix)
        items = schema.get("items", True)
        if prefix and "items" not in schema:
            extra_high = extra_low  # the tuple alone is valid: generate no more than required
        if items is False:
            if extra_low:
                raise SchemaNotSupported(f"{hint}: minItems needs items beyond prefixItems")
            extra_high = 0
        comma = self._comma
        if extra_high == 0:
            return self._rule(hint, '"[" ' + f" {comma} ".join(parts) + ' "]"')
        item = self._visit(items, f"{hint}-item")
        if parts:
            body = f" {comma} ".join(parts) + f" ( {comma} {item} ){repeat(extra_low, extra_high)}"
        elif extra_low == 0:
            tail = "" if extra_high == 1 else f" ( {comma} {item} ){repeat(0, _minus(extra_high))}"
            body = f"( {item}{tail} )?"
        else:
            tail = "" if extra_high == 1 else f" ( {comma} {item} ){repeat(extra_low - 1, _minus(extra_high))}"
            body = f"{item}{tail}"
        return self._rule(hint, f'"[" {body} "]"')

    def _ref(self, ref: str) -> str:
        if ref in self._refs:
            return self._refs[ref]
        if ref != "#" and not ref.startswith("#/"):
            raise SchemaNotSupported(f"$ref {ref!r}: only local references are supported")
        target = self._root
        for part in ref[2:].split("/") if ref != "#" else []:
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(target, Mapping) or part not in target:
                raise SchemaNotSupported(f"$ref {ref!r} does not resolve")
            target = target[part]
        name = self._rule(f"ref-{ref[2:]}", "")
        self._refs[ref] = name
        self.rules[name] = self._visit(target, f"{name}-body")
        return name


def _minus(high: int | None) -> int | None:
    return None if high is None else high - 1


def _implied_types(schema: Mapping[str, Any]) -> list[str]:
    """Types a schema without ``type`` constrains: generating only those is always valid."""
    implied = []
    for kind, keys in (("object", _OBJECT_KEYS), ("array", _ARRAY_KEYS), ("string", _STRING_KEYS)):
        if keys & schema.keys():
            implied.append(kind)
    if _NUMBER_KEYS & schema.keys():
        implied.append("number")
    return implied
