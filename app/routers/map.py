"""``/map``: the interactive map page, its deposit-name search and the files it loads.

Thin: the page is built by ``app.map.page`` and the name match by ``app.map.search``;
scripts and stylesheets are served by Starlette's ``StaticFiles`` (fedmin's own under
``/map/static``, the npm-vendored ones under ``/map/vendor``), so the page needs no CDN
and no extra mount in ``app/main.py``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

from app.collections import CollectionRegistry, RasterRegistry
from app.deps import collections_dep, rasters_dep, settings_dep
from app.encoders import GEOJSON, geojson
from app.map import assets
from app.map.search import MAX_RESULTS, MIN_QUERY_CHARS, find_by_name, name_index
from app.routing import CheckedRoute
from app.settings import Settings

router = APIRouter(tags=["map"], route_class=CheckedRoute)

Registry = Annotated[CollectionRegistry, Depends(collections_dep)]
_OWN_FILES = StaticFiles(directory=assets.OWN_STATIC_DIR)
_VENDOR_FILES = StaticFiles(directory=assets.VENDOR_DIR, check_dir=False)


@router.get(
    "/map",
    response_class=HTMLResponse,
    summary="Interactive map: layers, filters, ranking, shortlist downloads",
)
def map_page(
    request: Request,
    registry: Registry,
    rasters: Annotated[RasterRegistry, Depends(rasters_dep)],
    settings: Annotated[Settings, Depends(settings_dep)],
) -> HTMLResponse:
    # here, not at import: folium and its templates were 0.17 s and 10 MiB of every
    # start-up (importing app.main: 1.91 -> 1.74 s), which the first page pays instead
    from app.map.page import commodity_counts, page_config, page_layers, render_map

    assets.require_vendor_files()
    root_path = request.scope.get("root_path", "").rstrip("/")
    raster_specs = list(rasters.specs.values())
    config = page_config(
        root_path,
        commodity_counts(registry.get("deposits").frame["commodities"]),
        raster_specs,
        settings.overview_cell_km,  # the map opens on the whole country
        settings.min_cell_km,
        settings.max_cell_km,
    )
    return HTMLResponse(render_map(config, root_path, page_layers(raster_specs)))


@router.get(
    "/map/search",
    response_class=Response,
    summary="Deposits whose name matches a text (the map's search box)",
    responses={200: {"content": {GEOJSON: {}}}},
)
def search_deposits(
    registry: Registry,
    q: Annotated[
        str,
        Query(
            min_length=MIN_QUERY_CHARS,
            description="Text in any name of the deposit (its own or one of its records'), "
            "case- and accent-insensitive.",
            examples=["Black Bear"],
        ),
    ],
    limit: Annotated[int, Query(ge=1, le=MAX_RESULTS)] = 20,
) -> Response:
    """Exact names first, then names starting with ``q``, then names containing it, over
    every name of a site (its own and its records' ``alt_names``); each a full deposit
    feature, as ``/collections/deposits/items`` serves it."""
    deposits = registry.get("deposits")
    index = name_index(deposits.version, deposits.frame)
    positions = find_by_name(index, q, limit)
    content = geojson.feature_collection(deposits, positions, {"numberReturned": len(positions)})
    return Response(content, media_type=GEOJSON)


@router.get(f"{assets.OWN_URL}/{{path:path}}", include_in_schema=False)
async def map_static(path: str, request: Request) -> Response:
    return await _OWN_FILES.get_response(path, request.scope)


@router.get(f"{assets.VENDOR_URL}/{{path:path}}", include_in_schema=False)
async def map_vendor(path: str, request: Request) -> Response:
    return await _VENDOR_FILES.get_response(path, request.scope)
