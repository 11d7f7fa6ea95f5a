"""The tools of ``POST /v1/chat/completions``: functions, and web search, which the seeds and
OpenAI ask for two ways:

* ``web_search_options`` (OpenAI's search models, https://platform.openai.com/docs/guides/tools-web-search?api-mode=chat):
  ``search_context_size`` and an approximate ``user_location``;
* the ``$web_search`` tool of the seeds' example (the service's docs, section "Web search"; Kimi's
  builtin, https://platform.moonshot.ai/docs/guide/use-web-search): ``{"type": "builtin_function",
  "function": {"name": "$web_search"}}``, or ``"type": "function"`` with that name, as the seeds'
  ``openai`` SDK variant declares it (its ``parameters`` are ignored: the upstream defines them).

Both become the canonical ``WebSearch``; the gateway answers 400 for a model that cannot search,
and each provider asks its upstream its own way (``providers/openai_compat/web_search.py``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, StringConstraints, Tag

from unigate.core.chat import UserLocation, WebSearch

__all__ = ["WEB_SEARCH_TOOL", "Name", "Tool", "ToolParam", "WebSearchOptions", "WebSearchTool", "web_search"]

WEB_SEARCH_TOOL = "$web_search"

Name = Annotated[str, StringConstraints(pattern=r"^[a-zA-Z0-9_-]{1,64}$")]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FunctionDefinition(_Wire):
    name: Name
    description: str | None = None
    parameters: dict[str, Any] | None = None
    """The parameters the function accepts, described as a JSON Schema object."""
    strict: bool | None = None


class Tool(_Wire):
    type: Literal["function"]
    function: FunctionDefinition


class ApproximateLocation(_Wire):
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    """The two-letter ISO country code of the user, e.g. ``US``."""
    region: str | None = None
    city: str | None = None
    timezone: str | None = None
    """The IANA timezone of the user, e.g. ``America/Los_Angeles``."""


class WireUserLocation(_Wire):
    type: Literal["approximate"]
    """Always ``approximate``."""
    approximate: ApproximateLocation


class WebSearchOptions(_Wire):
    search_context_size: Literal["low", "medium", "high"] | None = None
    """How much context is retrieved from the web for the answer; ``medium`` is the default."""
    user_location: WireUserLocation | None = None


class WebSearchFunction(_Wire):
    name: Literal["$web_search"]
    """The only builtin function: any other name is rejected (400: it must be ``$web_search``)."""
    description: str | None = None
    parameters: dict[str, Any] | None = None


class WebSearchTool(_Wire):
    """The ``$web_search`` tool, declared as a builtin or as a function of that name."""

    type: Literal["builtin_function", "function"]
    function: WebSearchFunction


def _kind(tool: Any) -> str:
    """Which schema reads ``tool``: a builtin (``$web_search``, any name with a ``$``) or a function;
    so that a wrong tool is told what its own kind expects."""
    if isinstance(tool, dict):
        function = tool.get("function")
        name = function.get("name") if isinstance(function, dict) else None
        builtin = tool.get("type") == "builtin_function" or (isinstance(name, str) and name.startswith("$"))
        return "builtin" if builtin else "function"
    return "builtin" if isinstance(tool, WebSearchTool) else "function"


ToolParam = Annotated[Annotated[Tool, Tag("function")] | Annotated[WebSearchTool, Tag("builtin")], Discriminator(_kind)]


def web_search(options: WebSearchOptions | None, tool: bool) -> WebSearch | None:
    """The canonical request's search: from ``web_search_options``, or the bare tool."""
    if options is None:
        return WebSearch() if tool else None
    where = options.user_location.approximate if options.user_location else None
    location = UserLocation(where.country, where.region, where.city, where.timezone) if where else None
    return WebSearch(options.search_context_size, location)
