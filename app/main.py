"""The FastAPI application: created by ``create_app``, state loaded once in the lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from app import errors, middleware
from app.collections import TileCache
from app.deps import store_dep
from app.encoders import OrjsonResponse
from app.params import document_ogc_parameters
from app.routers import features, rankings, shortlist, tiles
from app.routers import map as map_routes
from app.routing import CheckedRoute, document_empty_values
from app.settings import Settings, get_settings
from app.state import ServingState, freeze_heap
from geo.caches import release_free_memory
from geo.landcoverage import coverage_summary, declared_coverage
from geo.rasters import limit_gdal_cache
from layers.store import Store

#: The sections of /docs, in this order.
OPENAPI_TAGS = [
    {"name": "service", "description": "Health and the loaded store build."},
    {"name": "OGC API - Features", "description": "Collections and their features (GeoJSON)."},
    {"name": "Tiles", "description": "Vector tiles (MVT) and raster tiles (PNG), TileJSON."},
    {"name": "map", "description": "The interactive map and its name search."},
    {"name": "rankings", "description": "Ranked cells with their explanations."},
    {"name": "shortlist", "description": "Ranked cells as CSV, GeoJSON, GPKG, KML or Shapefile."},
]


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    limit_gdal_cache(settings.gdal_cache_mb)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.tile_cache = TileCache(settings.tile_cache_bytes)  # keys hold the build
        app.state.serving = serving = ServingState(settings)  # the store build being served
        serving.start_watching()
        freeze_heap()  # the first requests must not pay a full collection of start-up's heap
        release_free_memory()  # and start-up's transient heap goes back to the system
        try:
            yield
        finally:
            serving.close()

    app = FastAPI(
        title="fedmin",
        description=(
            "Mineral deposits on US federal lands: where known potential is high and "
            "development low. Real public data (USGS MRDS/USMIN, USFS, BLM, NPS, Census)."
        ),
        version="0.1.0",
        lifespan=lifespan,
        default_response_class=OrjsonResponse,
        openapi_tags=OPENAPI_TAGS,
    )
    app.router.route_class = CheckedRoute  # /health too refuses unknown parameters
    errors.install(app)
    middleware.install(app, settings)
    documented = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            document_ogc_parameters(documented(), settings)  # cached by FastAPI
            document_empty_values(app.openapi_schema)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.get("/health", tags=["service"], summary="Service health and the loaded layers")
    def health(store: Store = Depends(store_dep)) -> dict:
        manifest = store.manifest
        return {
            "status": "ok",
            "store": {"build_id": manifest["build_id"], "built_at": manifest["built_at"]},
            "layers": {
                layer_id: {"kind": record["kind"], "rows": record["rows"]}
                for layer_id, record in manifest["layers"].items()
            },
            "absent": manifest["absent"],
            "land_coverage": coverage_summary(declared_coverage(manifest)),
        }

    # The routers' routes join the app's own list rather than being included: FastAPI
    # matches an included router's routes twice per request (to select it, then within
    # it), about 25 us of an item page's 190. Starlette tries routes in order, so the
    # busiest (item pages, tiles) go before FastAPI's docs routes and /health; the
    # documentation keeps its order through ``OPENAPI_TAGS``.
    app.router.routes[:0] = [*features.router.routes, *tiles.router.routes]
    for router in (map_routes.router, rankings.router, shortlist.router):
        app.router.routes.extend(router.routes)
    return app
