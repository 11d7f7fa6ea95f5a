"""The independent oracle: model ids as the seed survey's §3 tables list them.

``/work/shared/seed-survey.md`` was written by a person reading the seed file, not by our
generator, so parsing its tables here checks the generator's own parsing of the seeds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["NO_ID", "SURVEY", "SurveyIds", "committed_ids", "read_survey"]

SURVEY = Path(__file__).resolve().parents[3] / "shared" / "seed-survey.md"

NO_ID = "(The service has no Model ID)"
"""The OCR row whose id cell says there is no id (survey §3, Vision / OCR row 1)."""

_TICKED = re.compile(r"`([^`]+)`")


@dataclass(frozen=True, slots=True)
class SurveyIds:
    active: dict[str, frozenset[str]]
    """Id strings per §3 category heading (``"Text/Chat (LLM)"``, ``"Image"``...)."""
    deprecated: frozenset[str]
    rows: tuple[tuple[str, ...], ...]
    """Every table row's ids (active and deprecated), for alias checks."""
    page_groups: tuple[tuple[str, ...], ...]
    """§3.1: ids one model page documents together (``a``=``b``, ``a`` (table ID ``b``))."""


def _split(cell: str) -> tuple[str, ...]:
    words = [w.strip(",") for w in cell.split()]
    return tuple(w for w in words if w and w not in {"or", "/"})


def _row_ids(cell: str) -> tuple[str, ...]:
    """``\\`a\\` / \\`b\\``` and ``\\`a b\\``` both list the ids of one model."""
    return tuple(i for ticked in _TICKED.findall(cell) for i in _split(ticked))


def read_survey(path: Path = SURVEY) -> SurveyIds:
    text = path.read_text(encoding="utf-8")
    section = text[text.index("\n## 3. Model IDs") : text.index("\n### 3.1 ")]
    active: dict[str, set[str]] = {}
    deprecated: set[str] = set()
    rows: list[tuple[str, ...]] = []
    heading = ""
    for line in section.splitlines():
        if line.startswith("#### "):
            heading = line.removeprefix("#### ").split(" — ")[0]
            continue
        if not heading or line.startswith("Notes on the tables"):
            if line.startswith("Notes on the tables"):
                break
            continue
        if heading.startswith("Deprecated"):
            if line.startswith("* "):
                for entry in re.finditer(r"((?:`[^`]+`(?: / |, )?)+) \(", line):
                    ids = _row_ids(entry.group(1))
                    rows.append(ids)
                    deprecated.update(ids)
            continue
        if line.startswith("| ") and not line.startswith(("| #", "|---")):
            cell = line.split(" | ")[1]
            ids = (NO_ID,) if cell == f"`{NO_ID}`" else _row_ids(cell)
            rows.append(ids)
            active.setdefault(heading, set()).update(ids)
        elif line.startswith("`#g1_aura"):  # the Deepgram voices of the TTS table, one line
            for voice in _TICKED.findall(line):
                rows.append((voice,))
                active.setdefault(heading, set()).add(voice)
    pages = text[text.index("\n### 3.1 ") : text.index("\n## 4. ")]
    groups = [tuple(_TICKED.findall(m.group(0))) for m in _PAGE_GROUP.finditer(pages)]
    return SurveyIds({k: frozenset(v) for k, v in active.items()}, frozenset(deprecated), tuple(rows), tuple(groups))


_PAGE_GROUP = re.compile(r"`[^`]+`(?:=`[^`]+`)+|`[^`]+` \(table ID `[^`]+`")


def committed_ids(survey: SurveyIds) -> dict[str, object]:
    """The content of ``seed_ids.json``: the survey's ids without the two id-less cells."""
    groups = {tuple(sorted(set(r))) for r in (*survey.rows, *survey.page_groups) if len(set(r)) > 1}
    return {
        "about": "Model ids of the seeds' All Model IDs tables as seed-survey.md §3 lists them, "
        "without the id-less cells (the OCR row '(The service has no Model ID)' and the deprecated "
        "rows whose id is '-'), and the groups of ids that name one model (§3 rows, §3.1 pages). "
        "Written by: .venv/bin/python -m tests.catalog.survey",
        "active": sorted(set().union(*survey.active.values()) - {NO_ID}),
        "deprecated": sorted(survey.deprecated - {"-"}),
        "groups": [list(g) for g in sorted(groups)],
    }


if __name__ == "__main__":
    import orjson

    out = Path(__file__).with_name("seed_ids.json")
    out.write_bytes(orjson.dumps(committed_ids(read_survey()), option=orjson.OPT_INDENT_2) + b"\n")
