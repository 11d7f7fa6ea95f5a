"""Web search through OpenAI-compatible upstreams: how each asks for it, and its sources read back
as ``UrlCitation`` annotations.

* **OpenAI** (``"openai"``): its search models (``gpt-4o-search-preview``, ...) always search and
  take ``web_search_options`` as given
  (https://platform.openai.com/docs/guides/tools-web-search?api-mode=chat); they answer
  ``message.annotations`` of type ``url_citation`` (``delta.annotations`` in streams). They reject
  sampling controls ("Model incompatible request argument supplied: temperature"), which the
  seeds' own example sends (``temperature: 0.6`` with ``gpt-4o-mini-search-preview``, the service's
  docs, section "Web search", with its answer): the catalog accepts ``temperature`` for them and
  it is not forwarded (``drop_sampling``).
* **Perplexity** (``"perplexity"``): Sonar models always search; ``web_search_options`` takes
  ``search_context_size`` and a flat ``user_location`` (https://docs.perplexity.ai/api-reference/chat-completions-post).
  Sources come as top-level ``search_results`` (``title``, ``url``) and ``citations`` (URLs), and
  the text marks them ``[1]``, ``[2]``...: each marker becomes an annotation over its own
  characters, and a source the text never marks one at the text's end, without characters.
* **Moonshot** (``"kimi"``): the builtin ``$web_search`` tool
  (https://platform.moonshot.ai/docs/guide/use-web-search), whose round trip ``kimi_search.py``
  runs; thinking is turned off, which Kimi's search needs.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from unigate.catalog.spec import ModelSpec
from unigate.core.chat import ChatRequest, WebSearch
from unigate.core.results import UrlCitation

__all__ = [
    "BUILTIN_TOOL",
    "SearchStyle",
    "perplexity_citations",
    "search_body",
    "searches",
    "sources",
    "url_citations",
]

SearchStyle = Literal["openai", "perplexity", "kimi"]

BUILTIN_TOOL = {"type": "builtin_function", "function": {"name": "$web_search"}}
"""Kimi's web search tool, declared as its docs show it."""

_MARKER = re.compile(r"\[(\d{1,3})\]")
_DROPPED_SAMPLING = ("temperature",)
"""What OpenAI's search models reject that the catalog accepts for them (see the module)."""


def searches(model: ModelSpec) -> bool:
    """Whether the catalog says ``model``'s upstream can search the web."""
    return "web_search_options" in model.params


def search_body(body: dict[str, Any], request: ChatRequest, model: ModelSpec, style: SearchStyle | None) -> None:
    """Ask ``body``'s upstream for the search ``request`` wants, its own way (in place)."""
    if style == "openai" and searches(model):
        for name in _DROPPED_SAMPLING:
            body.pop(name, None)
    search = request.web_search
    if search is None or style is None:
        return
    if style == "openai":
        body["web_search_options"] = _openai_options(search)
    elif style == "perplexity":
        body["web_search_options"] = _perplexity_options(search)
    else:
        body.setdefault("tools", []).append(BUILTIN_TOOL)
        if "openai/chat-completion.reasoning" in model.features:
            body["thinking"] = {"type": "disabled"}  # Kimi K2.5/K2.6 think by default; $web_search needs it off


def _openai_options(search: WebSearch) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if search.context_size is not None:
        options["search_context_size"] = search.context_size
    where = search.user_location
    if where is not None:
        fields = {"country": where.country, "region": where.region, "city": where.city, "timezone": where.timezone}
        options["user_location"] = {
            "type": "approximate",
            "approximate": {k: v for k, v in fields.items() if v is not None},
        }
    return options


def _perplexity_options(search: WebSearch) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if search.context_size is not None:
        options["search_context_size"] = search.context_size
    where = search.user_location
    if where is not None:  # Perplexity's location is flat and has no time zone
        fields = {"country": where.country, "region": where.region, "city": where.city}
        options["user_location"] = {k: v for k, v in fields.items() if v is not None}
    return options


def url_citations(raw: Any) -> tuple[UrlCitation, ...]:
    """OpenAI's ``annotations`` (of a message or a delta): its ``url_citation`` items."""
    if not isinstance(raw, list):
        return ()
    out = []
    for item in raw:
        cite = item.get("url_citation") if isinstance(item, dict) and item.get("type") == "url_citation" else None
        if isinstance(cite, dict) and isinstance(cite.get("url"), str):
            title = cite.get("title")
            out.append(
                UrlCitation(
                    cite["url"],
                    title if isinstance(title, str) else "",
                    _index(cite.get("start_index")),
                    _index(cite.get("end_index")),
                )
            )
    return tuple(out)


def _index(value: Any) -> int:
    return value if type(value) is int and value >= 0 else 0


def sources(data: Any) -> list[tuple[str, str]]:
    """Perplexity's sources of an answer or a chunk, in citation order: ``(url, title)``."""
    if not isinstance(data, dict):
        return []
    results = data.get("search_results")
    if isinstance(results, list) and results:
        return [
            (str(r["url"]), str(r.get("title") or ""))
            for r in results
            if isinstance(r, dict) and isinstance(r.get("url"), str)
        ]
    urls = data.get("citations")
    return [(u, "") for u in urls if isinstance(u, str)] if isinstance(urls, list) else []


def perplexity_citations(text: str, found: list[tuple[str, str]]) -> tuple[UrlCitation, ...]:
    """Each ``[n]`` marker of ``text`` over its own characters, then every source never marked."""
    out: list[UrlCitation] = []
    marked: set[int] = set()
    for match in _MARKER.finditer(text):
        n = int(match.group(1))
        if 1 <= n <= len(found):
            url, title = found[n - 1]
            out.append(UrlCitation(url, title, match.start(), match.end()))
            marked.add(n)
    end = len(text)
    out.extend(UrlCitation(url, title, end, end) for n, (url, title) in enumerate(found, 1) if n not in marked)
    return tuple(out)
