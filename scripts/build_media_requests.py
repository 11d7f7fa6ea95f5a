"""Build ``src/unigate/catalog/data/media_requests.json``: what a request to each media model of the
catalog may contain, from the AI/ML API reference's per-model request schemas.

    .venv/bin/python scripts/build_media_requests.py [--reference ../shared/aimlapi-reference] [--check]

Inputs: the reference's ``models.json`` (one entry per documented model id: its request schema,
reduced to ``type``, ``enum``, limits, ``default``, ``required``, ``anyOf``/``oneOf``, nested object
``fields`` and array ``items``) and the catalog's own ``models.json`` (canonical ids, aliases,
types). Run ``build_catalog.py`` first when the seeds or overrides change; then this script; then
``build_catalog.py`` again if the set of models with an edit operation changed (it reads the
``edits`` of the file written here to list ``/v1/images/edits``).

A catalog model finds its reference entry by, in order (the rules of ``seed-crosscheck.md``):

1. one of its names (id or alias) is a reference id;
2. a reference page names it in its "valid for the following models" box (``page_lists_ids``:
   ``#g1_whisper-base`` is documented on the ``whisper-base`` page);
3. the same id with the vendor prefix added or dropped (``mistral/mistral-ocr-latest``);
4. the same id up to case and punctuation (``pixverse/v5-5-text-to-video``);
5. ``#g1_aura-2-<voice>-<lang>``: ``deepgram/aura-2`` with that voice, which the id fixes: its
   ``voice`` accepts that one name only (OpenAI's ``/v1/audio/speech`` always sends a voice).

Among several entries an id matches, one on a page of the docs' navigation wins, then the earlier
rule: a legacy page documents ``#g1_whisper-base`` on the retired synchronous ``/v1/stt`` and a
spec no page shows has ``#g1_whisper-large`` without its ``url``/``audio`` fields, while the
current ``whisper-*`` pages document both on ``/v1/stt/create`` with the ``#g1_`` ids in their
examples. (``minimax/speech-2.8-hd`` so gets the 2.8-turbo spec its page embeds; the two differ
only in ``model``.)

The output keeps only what validation needs: descriptions, ``format`` other than ``binary``
(an upload; URIs are vetted by the fetcher, not here), ``deprecated`` and ``nullable: false``
go; ``model`` keeps no enum (the reference spells some ids otherwise, and the edge has already
resolved the model). Identical schemas are stored once (the ten Nova-2 ids share one).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "src" / "unigate" / "catalog" / "data"
MEDIA_TYPES = ("image", "video", "tts", "voice-chat", "stt", "music", "ocr", "3d")

_KEEP = (
    "type",
    "required",
    "nullable",
    "enum",
    "default",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
)
_AURA_2 = re.compile(r"#g1_aura-2-(?P<voice>[a-z]+)-(?P<lang>[a-z]{2})")


def reduce(node: dict[str, Any]) -> dict[str, Any]:
    """The parts of one reference schema node that validation reads, in a fixed key order."""
    out: dict[str, Any] = {}
    binary = node.get("format") == "binary"
    for key in _KEEP:
        value = node.get(key)
        if value is None or (value is False and key in ("required", "nullable")) or (binary and key == "type"):
            continue
        out[key] = value
    if binary:  # an upload: the edge reads the file, whatever the reference says its parts are
        out["binary"] = True
    if "fields" in node and not binary:
        out["fields"] = {name: reduce(sub) for name, sub in node["fields"].items()}
        extra = node.get("additionalProperties")
        if isinstance(extra, dict):
            out["extra"] = reduce(extra)
    elif isinstance(node.get("additionalProperties"), dict) and "fields" not in node:
        out["extra"] = reduce(node["additionalProperties"])
    if "items" in node:
        out["items"] = reduce(node["items"])
    alternatives = [*node.get("anyOf", ()), *node.get("oneOf", ())]
    if alternatives:
        out["anyOf"] = [reduce(a) for a in alternatives]
    return out


def request_schema(entry: dict[str, Any]) -> dict[str, Any]:
    """An entry's top-level request schema, reduced, with ``model`` kept as a plain string."""
    fields = {name: reduce(node) for name, node in entry["fields"].items()}
    fields["model"] = {"type": "string"}
    return {"fields": fields}


def _loose(name: str) -> str:
    return re.sub(r"[._/\-]+", "-", name.lower())


class _Reference:
    def __init__(self, entries: list[dict[str, Any]]) -> None:
        self.by_id = {e["model"]: e for e in entries}
        self.page_listed: dict[str, list[str]] = {}
        self.bare: dict[str, list[str]] = {}
        self.loose: dict[str, list[str]] = {}
        for e in entries:
            for listed in e.get("page_lists_ids") or ():
                self.page_listed.setdefault(listed, []).append(e["model"])
            self.bare.setdefault(e["model"].split("/", 1)[-1], []).append(e["model"])
            self.loose.setdefault(_loose(e["model"]), []).append(e["model"])

    def candidates(self, names: list[str]) -> list[tuple[str, str]]:
        """(reference id, rule) for every entry the names match, in rule order."""
        found: list[tuple[str, str]] = []
        for name in names:
            if name in self.by_id:
                found.append((name, "exact"))
        for name in names:
            found += [(r, "page-listed") for r in self.page_listed.get(name, ())]
        for name in names:
            bare = name.split("/", 1)[-1]
            found += [(r, "vendor prefix") for r in self.bare.get(bare, ()) if r != name]
            found += [(r, "vendor prefix") for r in self.bare.get(name, ()) if r != name]
        for name in names:
            found += [(r, "respelled") for r in self.loose.get(_loose(name), ()) if r != name]
        return found

    def resolve(self, names: list[str]) -> tuple[str, str] | None:
        found = self.candidates(names)
        if not found:
            return None
        # An entry on a page of the docs' navigation wins over a legacy page or a spec no page shows.
        current = [c for c in found if self.by_id[c[0]].get("in_summary")]
        return (current or found)[0]


def _edit_schema(entry: dict[str, Any]) -> dict[str, Any] | None:
    for other in entry.get("other_creates") or ():
        if other["path"] == "/v1/images/edits":
            return request_schema(other["request"])
    return None


def build(reference: Path, catalog: Path) -> tuple[bytes, list[str]]:
    """The file's bytes and the catalog media ids that have no schema."""
    ref = orjson.loads((reference / "models.json").read_bytes())
    models = [
        m for m in orjson.loads(catalog.read_bytes())["models"] if not m["deprecated"] and m["type"] in MEDIA_TYPES
    ]
    lookup = _Reference(ref["models"])
    schemas: list[bytes] = []
    index: dict[bytes, int] = {}

    def store(schema: dict[str, Any]) -> int:
        key = orjson.dumps(schema)
        if key not in index:
            index[key] = len(schemas)
            schemas.append(key)
        return index[key]

    creates: dict[str, int] = {}
    edits: dict[str, int] = {}
    sources: dict[str, str] = {}
    missing: list[str] = []
    for m in models:
        names = [m["id"], *m["aliases"]]
        aura = _AURA_2.fullmatch(m["id"])
        if aura is not None:
            entry = lookup.by_id["deepgram/aura-2"]
            if aura["voice"] not in entry["request"]["fields"]["voice"]["enum"]:
                raise ValueError(f"{m['id']}: voice {aura['voice']!r} is not in deepgram/aura-2's voice enum")
            schema = request_schema(entry["request"])
            schema["fields"]["voice"] = {"type": "string", "enum": [aura["voice"]]}
            creates[m["id"]] = store(schema)
            sources[m["id"]] = "deepgram/aura-2 (voice in the id)"
            continue
        match = lookup.resolve(names)
        if match is None:
            missing.append(m["id"])
            continue
        ref_id, rule = match
        entry = lookup.by_id[ref_id]
        creates[m["id"]] = store(request_schema(entry["request"]))
        if ref_id != m["id"]:
            sources[m["id"]] = f"{ref_id} ({rule})"
        edit = _edit_schema(entry)
        if edit is not None:
            edits[m["id"]] = store(edit)
    about = {
        "generated_by": "scripts/build_media_requests.py",
        "sources": [f"aimlapi-reference/models.json ({ref['about']['source'].split(' (')[0]})", "catalog models.json"],
        "note": "Generated file: rerun the script. models/edits map a catalog id to its schema's index.",
        "counts": {
            "models": len(creates),
            "edits": len(edits),
            "schemas": len(schemas),
            "without_schema": len(missing),
        },
        "without_schema": missing,
        "matched_as": sources,
    }
    lines = [b"{", b'"about": ' + orjson.dumps(about) + b",", b'"models": ' + orjson.dumps(creates) + b","]
    lines += [b'"edits": ' + orjson.dumps(edits) + b",", b'"schemas": [']
    lines += [s + (b"," if i < len(schemas) - 1 else b"") for i, s in enumerate(schemas)]
    lines += [b"]", b"}", b""]
    return b"\n".join(lines), missing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, default=ROOT.parent / "shared" / "aimlapi-reference")
    parser.add_argument("--catalog", type=Path, default=DATA / "models.json")
    parser.add_argument("--out", type=Path, default=DATA / "media_requests.json")
    parser.add_argument("--check", action="store_true", help="exit 1 if --out is not what the script builds")
    args = parser.parse_args(argv)
    data, missing = build(args.reference, args.catalog)
    if args.check:
        if (args.out.read_bytes() if args.out.exists() else b"") != data:
            print(f"{args.out} is stale: run scripts/build_media_requests.py", file=sys.stderr)
            return 1
        return 0
    args.out.write_bytes(data)
    if missing:
        print(f"no reference schema for {len(missing)} model(s): {', '.join(missing)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
