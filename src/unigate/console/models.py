"""The Models page: the catalog, searchable and filterable by type, developer and availability.

The filters are a GET form, so the page works without script; ``console.js`` filters the rows
as you type (every row is in the page, those that do not match hidden). A model is *available*
when this server can serve it now (it is not retired and its provider is configured and serves
its type: the embedded embedding model is, though it serves no chat), as ``GET /models`` reports it.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from unigate.api.context import GATEWAY
from unigate.api.openai.models import available, servable
from unigate.catalog.spec import ModelSpec
from unigate.console.render import page, signed_in

__all__ = ["CatalogRow", "catalog_rows", "models_page"]


@dataclass(frozen=True, slots=True)
class CatalogRow:
    spec: ModelSpec
    available: bool

    @property
    def search_text(self) -> str:
        s = self.spec
        return " ".join((s.id, s.name, s.developer, *s.aliases)).lower()


def catalog_rows(request: web.Request) -> list[CatalogRow]:
    gateway = request.config_dict[GATEWAY]
    serving = servable(gateway.services)
    return [CatalogRow(s, available(s, serving)) for s in gateway.catalog]


async def models_page(request: web.Request) -> web.StreamResponse:
    """``GET /console/models``."""
    session = await signed_in(request)
    everything = catalog_rows(request)
    q = request.query.get("q", "").strip().lower()
    kind = request.query.get("type", "")
    developer = request.query.get("developer", "")
    availability = request.query.get("availability", "")

    def matches(r: CatalogRow) -> bool:
        return (
            (not q or q in r.search_text)
            and (not kind or r.spec.type == kind)
            and (not developer or r.spec.developer == developer)
            and (availability != "available" or r.available)
            and (availability != "unavailable" or not r.available)
        )

    # Every row is rendered, those that do not match hidden, so that the page's script can show
    # them again as the filters change. Available models first, then by id.
    everything.sort(key=lambda r: (not r.available, r.spec.id.lower()))
    shown = [(r, matches(r)) for r in everything]
    return page(
        request,
        "models.html",
        session=session,
        rows=shown,
        shown=sum(visible for _, visible in shown),
        total=len(everything),
        available=sum(r.available for r in everything),
        types=sorted({r.spec.type for r in everything}),
        developers=sorted({r.spec.developer for r in everything if r.spec.developer}, key=str.lower),
        q=request.query.get("q", ""),
        kind=kind,
        developer=developer,
        availability=availability,
    )
