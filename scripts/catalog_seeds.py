"""Read the model facts out of the seeds' GitBook PDF export (``seeds/002_*.txt``).

Three things are read, each documented in ``/work/shared/seed-survey.md``:

* the **All Model IDs** tables (survey §3): id(s), developer, context, model card, per category;
* the chat **model pages** (survey §1.2, §3.1): the ids each page is "valid for" and its overview;
* the flattened **API Schema** blocks (survey §2.4): which request parameters, roles and content
  parts each documented chat model accepts.

How the export mangled the tables (survey §3, "Reconstruction caveat"): every table lost its first
two rows. Their ids and first model card are printed together in one "head" block after the last
table (consecutive lines, no blank lines between them), their developer/context cells under the
table headings, and the rest of row 2 (context and/or model card) opens the table's body. The
bodies of all tables follow each other as one run of blank-separated cells, preceded by the Text
Models page's copy of the text table. This module rebuilds the rows from those three places.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "TABLE_TITLES",
    "ModelPage",
    "SchemaBlock",
    "SeedFacts",
    "TableRow",
    "read_seeds",
    "split_ids",
]

SEED_FILE = "002_010c6b26d5444377.txt"

TABLE_TITLES = (
    "Text Models (LLM)",
    "Image Models",
    "Video Models",
    "Speech-to-Text",
    "Text-to-Speech",
    "Voice Chat",
    "Music Models",
    "Optical Character Recognition (OCR)",
    "3D-Generating Models",
    "Embedding Models",
    "Deprecated / No Longer Supported Models",
)
"""The All Model IDs page's tables, in file order (the ``hashtag`` headings at 9742-9900)."""

_WITH_CONTEXT = frozenset({0, 7, 9, 10})
"""Tables whose rows have a Context cell (text, OCR, embedding, deprecated); the others have
exactly three cells a row: id, developer, model card."""

_CARD_LINK = "arrow-up-right"
_NO_ID = "The service has no Model ID"
_CONTEXT = re.compile(r"[\d,]+")
_DASHES = frozenset({"-", "–"})


@dataclass(frozen=True, slots=True)
class TableRow:
    table: int
    """Index into ``TABLE_TITLES``."""
    ids: tuple[str, ...]
    """The row's id strings: one model, the rest aliases. Empty for the OCR row without an id."""
    developer: str
    context: int | None
    card: str
    """The model card link text, ``"-"`` or ``"Coming Soon"``, as printed."""
    line: int
    """1-based line of the row's first cell in the seed file."""


@dataclass(frozen=True, slots=True)
class ModelPage:
    title: str
    ids: tuple[str, ...]
    """The "This documentation is valid for the following list of our models" bullets."""
    overview: str
    line: int


@dataclass(frozen=True, slots=True)
class SchemaBlock:
    model: str
    """The ``model`` example of the block's response section."""
    fields: frozenset[str]
    """Leaf field names of the request part, as printed (``include_usage``, ``budget_tokens``...)."""
    roles: frozenset[str]
    """Message roles whose descriptions appear ("in this case, the user")."""
    parts: frozenset[str]
    """Content part kinds the user message accepts besides text: ``image``, ``file``, ``audio``, ``video``."""
    anthropic: bool
    """An Anthropic-Messages-shaped block (survey §2.2)."""
    logit_bias: bool
    line: int


@dataclass(frozen=True, slots=True)
class SeedFacts:
    rows: tuple[TableRow, ...]
    pages: tuple[ModelPage, ...]
    blocks: tuple[SchemaBlock, ...]
    text_page_rows: tuple[TableRow, ...] = field(default=())
    """The Text Models page's copy of the text table (survey §3 source (b)), for cross-checking."""


def split_ids(cell: str) -> tuple[str, ...]:
    """``"a or b"``, ``"a, b"``, ``"a / b"`` and ``"a b"`` all list several ids for one model."""
    words = [w.strip(",") for w in cell.split()]
    return tuple(w for w in words if w and w not in {"or", "/"})


def read_seeds(seeds_dir: Path) -> SeedFacts:
    lines = (seeds_dir / SEED_FILE).read_text(encoding="utf-8").splitlines()
    text = [line.strip() for line in lines]
    rows, text_page_rows = _read_tables(text)
    return SeedFacts(
        rows=tuple(rows),
        pages=tuple(_read_pages(text)),
        blocks=tuple(_read_blocks(text)),
        text_page_rows=tuple(text_page_rows),
    )


# ---- All Model IDs tables ------------------------------------------------------------------


@dataclass(slots=True)
class _Head:
    """Row 1 and row 2 of one table, as far as the head block and the headings give them."""

    ids: list[tuple[str, ...]]
    lines: list[int]
    card1: str
    cells: list[str] = field(default_factory=list)
    """Developer/context cells printed under the table heading."""


def _read_tables(text: list[str]) -> tuple[list[TableRow], list[TableRow]]:
    head_at = text.index(_NO_ID)
    start = head_at
    while text[start - 1]:
        start -= 1
    end = text.index(_BLOCK_START, head_at) - 1  # the first schema block follows at once
    heads, deprecated_card1 = _read_head_block(text, start, end)
    _read_headings(text, heads, deprecated_card1)
    segments = _body_segments(text, start)
    if len(segments) != len(TABLE_TITLES) + 1:
        raise ValueError(f"expected {len(TABLE_TITLES) + 1} table bodies before line {start + 1}, got {len(segments)}")
    text_page = _rows_of(0, segments[0], None)
    rows: list[TableRow] = []
    for table, segment in enumerate(segments[1:]):
        rows.extend(_rows_of(table, segment, heads[table]))
    return rows, text_page


def _read_head_block(text: list[str], start: int, end: int) -> tuple[list[_Head], str]:
    heads: list[_Head] = []
    i = start
    while i <= end:
        cell = text[i]
        if cell.endswith(_CARD_LINK):  # row 1's card of the deprecated table ends the block
            if i != end:
                raise ValueError(f"unexpected model card at line {i + 1}")
            return heads, _card(cell)
        first, first_line = cell, i
        card1 = ""
        if text[i + 1].endswith(_CARD_LINK):
            card1 = _card(text[i + 1])
            i += 1
        second = text[i + 1]
        heads.append(
            _Head(
                ids=[() if first == _NO_ID else split_ids(first), split_ids(second)],
                lines=[first_line + 1, i + 2],
                card1=card1,
            )
        )
        i += 2
    raise ValueError("head block does not end with the deprecated table's first model card")


def _read_headings(text: list[str], heads: list[_Head], deprecated_card1: str) -> None:
    """Attach the developer/context cells printed under each table heading.

    The deprecated table's heading is followed by its first two rows nearly whole (id,
    developer, context, id, developer); only row 1's card is in the head block.
    """
    at = text.index("Full List of Model IDs")
    last = len(TABLE_TITLES) - 1
    for table, title in enumerate(TABLE_TITLES):
        at = text.index(title, at)
        j = text.index("Model Card", at) + 1
        cells: list[tuple[int, str]] = []
        while text[j] != "hashtag" and len(cells) < 5:
            if text[j]:
                cells.append((j + 1, text[j]))
            j += 1
        if table < last:
            heads[table].cells = [cell for _, cell in cells]
        else:
            (line1, id1), (_, dev1), (_, context1), (line2, id2), (_, dev2) = cells
            ids = [split_ids(id1), split_ids(id2)]
            heads.append(_Head(ids, [line1, line2], deprecated_card1, [dev1, context1, dev2]))


def _body_segments(text: list[str], head_start: int) -> list[list[tuple[int, str]]]:
    """Cells of the blank-separated run that ends at the head block, cut where a table starts.

    A table's body opens with the tail of its row 2 (a model card, or context then card): cells
    that cannot start a row. That is where one table ends and the next begins.
    """
    cells: list[tuple[int, str]] = []
    i = head_start - 2
    while i >= 1 and text[i] and not text[i - 1] and text[i - 2]:
        cells.append((i, text[i]))
        i -= 2
    cells.reverse()
    # The run's first cell is the text page's row-1 context: drop anything before it.
    while cells and not _CONTEXT.fullmatch(cells[0][1]):
        cells.pop(0)
    segments: list[list[tuple[int, str]]] = [[]]
    k = 0
    while k < len(cells):
        if segments[-1] and _starts_table(cells, k):
            segments.append([])
        kind = max(len(segments) - 2, 0)  # segment 0 is the text page's copy of the text table
        width = _row_width(cells, k, kind, tail=not segments[-1])
        segments[-1].extend(cells[k : k + width])
        k += width
    return segments


def _is_tail_start(cell: str) -> bool:
    return cell.endswith(_CARD_LINK) or bool(_CONTEXT.fullmatch(cell))


def _starts_table(cells: list[tuple[int, str]], k: int) -> bool:
    """Whether ``cells[k]`` opens a row-2 tail: a card, or a context and a card, possibly after
    one stray cell (the text table prints a truncated id there, line 11927)."""
    if _is_tail_start(cells[k][1]):
        return True
    return k + 1 < len(cells) and bool(_CONTEXT.fullmatch(cells[k + 1][1]))


def _row_width(cells: list[tuple[int, str]], k: int, table: int, *, tail: bool) -> int:
    """How many cells the row (or row-2 tail) starting at ``cells[k]`` spans."""
    if tail:
        width = 0 if _is_tail_start(cells[k][1]) else 1
        if _CONTEXT.fullmatch(cells[k + width][1]):
            width += 1
        return width + 1
    if table not in _WITH_CONTEXT:
        return 3
    j = k + 1
    while j < len(cells):
        cell = cells[j][1]
        if _CONTEXT.fullmatch(cell):
            return j - k + 2
        if cell.endswith(_CARD_LINK):
            return j - k + 1
        if cell in _DASHES:
            following = cells[j + 1][1] if j + 1 < len(cells) else ""
            return j - k + (2 if following.endswith(_CARD_LINK) or following in _DASHES else 1)
        j += 1
    raise ValueError(f"row at line {cells[k][0] + 1} never ends")


def _rows_of(table: int, segment: list[tuple[int, str]], head: _Head | None) -> list[TableRow]:
    tail_width = _row_width(segment, 0, table, tail=True)
    tail = [cell for _, cell in segment[:tail_width]]
    rows: list[TableRow] = []
    if head is not None and head.ids:
        rows.extend(_head_rows(table, head, tail))
    k = tail_width
    while k < len(segment):
        width = _row_width(segment, k, table, tail=False)
        rows.append(_row(table, segment[k : k + width]))
        k += width
    return rows


def _head_rows(table: int, head: _Head, tail: list[str]) -> list[TableRow]:
    cells = head.cells
    has_context = table in _WITH_CONTEXT
    dev1 = cells[0]
    context1 = _context(cells[1]) if has_context and len(cells) > 2 else None
    dev2 = cells[-1]
    context2 = next((_context(c) for c in tail if _CONTEXT.fullmatch(c)), None)
    return [
        TableRow(table, head.ids[0], dev1, context1, head.card1 or "-", head.lines[0]),
        TableRow(table, head.ids[1], dev2, context2, _card(tail[-1]), head.lines[1]),
    ]


def _row(table: int, cells: list[tuple[int, str]]) -> TableRow:
    values = [cell for _, cell in cells]
    if table not in _WITH_CONTEXT:
        first, developer, card = values
        return TableRow(table, split_ids(first), developer, None, _card(card), cells[0][0] + 1)
    card = values[-1]
    context: int | None = None
    rest = values[:-1]
    if len(rest) >= 3 and (_CONTEXT.fullmatch(rest[-1]) or rest[-1] in _DASHES):
        context = _context(rest[-1])
        rest = rest[:-1]
    *id_cells, developer = rest
    ids = tuple(i for cell in id_cells for i in split_ids(cell))
    return TableRow(table, ids, developer, context, _card(card), cells[0][0] + 1)


def _context(cell: str) -> int | None:
    return int(cell.replace(",", "")) if _CONTEXT.fullmatch(cell) else None


def _card(cell: str) -> str:
    return cell.removesuffix(_CARD_LINK)


# ---- model pages ---------------------------------------------------------------------------

_VALID_FOR = "This documentation is valid for the following list of our models:"


def _read_pages(text: list[str]) -> list[ModelPage]:
    pages: list[ModelPage] = []
    for i, line in enumerate(text):
        if line != _VALID_FOR:
            continue
        title_at = i - 1
        while not text[title_at] or text[title_at] == "circle-info":
            title_at -= 1
        ids: list[str] = []
        j = i + 1
        while j < len(text) and (not text[j] or text[j].startswith("•")):
            if text[j]:
                ids.append(text[j].removeprefix("•").strip())
            j += 1
        overview = ""
        k = j
        # The overview may follow a hint box; some pages print it elsewhere (then it stays "").
        while k < min(j + 12, len(text)) and text[k] != _VALID_FOR and text[k] != "Model Overview":
            k += 1
        if k < len(text) and text[k] == "Model Overview":
            k += 1
            paragraphs: list[str] = []
            while text[k] != "hashtag" and not text[k].startswith(("circle-", "chevron-")):
                if text[k]:
                    paragraphs.append(text[k])
                k += 1
            overview = " ".join(paragraphs)
        pages.append(ModelPage(text[title_at], tuple(ids), overview, i + 1))
    return pages


# ---- schema blocks ---------------------------------------------------------------------------

_BLOCK_START = "modelstring · enumRequiredPossible values:"
_FIELD = re.compile(r"([a-z_]+?)(string|number|integer|boolean|any of|one of|object|array).*(Required|Optional)")
_ROLE = re.compile(r"The role of the author of the message — in this case, the (\w+)")


def _read_blocks(text: list[str]) -> list[SchemaBlock]:
    starts = [i for i, line in enumerate(text) if line == _BLOCK_START]
    blocks: list[SchemaBlock] = []
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(text)
        body = text[start:end]
        response_at = next(
            (k for k, line in enumerate(body) if line == "A unique identifier for the chat completion."), len(body)
        )
        request = body[:response_at]
        fields = frozenset(m.group(1) for line in request if (m := _FIELD.fullmatch(line)))
        model_at = body.index("modelstringRequired", response_at)
        model = next(line for line in body[model_at:] if line.startswith("Example: ")).removeprefix("Example: ")
        roles = frozenset(m.group(1).lower() for line in request if (m := _ROLE.search(line)))
        anthropic = "stop_sequences" in fields or "budget_tokens" in fields
        blocks.append(
            SchemaBlock(
                model=model,
                fields=fields,
                roles=roles,
                parts=_parts(request),
                anthropic=anthropic,
                logit_bias=any(line.startswith("Other propertiesnumber · min: -100") for line in request),
                line=start + 1,
            )
        )
    return blocks


_PART_MARKS = (
    ("image", "Either a URL of the image or the base64 encoded image data."),
    ("image", "The base64 encoded image data."),  # Anthropic-style image source
    ("file", "file_data"),
    ("file", "sourceany ofRequired"),  # Anthropic-style document source
    ("audio", "ncoded audio data"),
    ("video", "Either a URL of the video"),
)
"""Description lines that betray a content part kind (the part names themselves are not printed)."""


def _parts(request: list[str]) -> frozenset[str]:
    return frozenset(kind for kind, mark in _PART_MARKS if any(mark in line for line in request))
