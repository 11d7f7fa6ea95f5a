"""A searched answer's sources on Anthropic's wire: text blocks that carry ``citations`` of type
``web_search_result_location`` (https://docs.anthropic.com/en/docs/agents-and-tools/tool-use/web-search-tool),
as Anthropic's own web search answers them: the text is cut into blocks at the cited spans, and
each cited block lists its sources with the ``cited_text``. The canonical result has no
``encrypted_index`` (only Anthropic's search makes one): it is empty.
"""

from __future__ import annotations

from typing import Any

from unigate.core.results import UrlCitation

__all__ = ["citation", "text_blocks"]


def citation(c: UrlCitation, text: str) -> dict[str, Any]:
    return {
        "type": "web_search_result_location",
        "url": c.url,
        "title": c.title,
        "encrypted_index": "",
        "cited_text": text[c.start_index : c.end_index],
    }


def text_blocks(text: str, cited: tuple[UrlCitation, ...]) -> list[dict[str, Any]]:
    """``text`` as Anthropic text blocks, cut at the cited spans (a span that overlaps the one
    before joins its block; sources cited over no characters go on the last block)."""
    blocks: list[dict[str, Any]] = []
    unplaced: list[UrlCitation] = []
    at = 0  # where the text not yet in a block starts
    for c in sorted(cited, key=lambda c: (c.start_index, c.end_index)):
        start, end = min(c.start_index, len(text)), min(c.end_index, len(text))
        if end <= start:
            unplaced.append(c)
        elif start < at:  # only a cited block moved ``at``: this span overlaps it
            blocks[-1]["text"] += text[at:end]
            blocks[-1]["citations"].append(citation(c, text))
            at = max(at, end)
        else:
            if start > at:
                blocks.append({"type": "text", "text": text[at:start]})
            blocks.append({"type": "text", "text": text[start:end], "citations": [citation(c, text)]})
            at = end
    if at < len(text) or not blocks:
        blocks.append({"type": "text", "text": text[at:]})
    if unplaced:
        blocks[-1].setdefault("citations", []).extend(citation(c, text) for c in unplaced)
    return blocks
