"""Vector tiles (MVT) of every collection and PNG tiles of the raster layers.

Paths follow OGC API - Tiles: ``.../tiles/WebMercatorQuad/{z}/{x}/{y}`` (``.mvt`` suffix
also accepted) and ``/rasters/{rasterId}/tiles/WebMercatorQuad/{z}/{x}/{y}.png``, each
with a TileJSON 3.0 document. Behaviour shared by both kinds:

* **Empty tile: 204 No Content** (no data there, or nothing left after the filters),
  with the same ETag and Cache-Control as a full tile.
* **Caching:** the ETag is a hash of everything the tile depends on (collection or
  raster, z/x/y, filters, store build, rendering settings), so ``If-None-Match`` is
  answered with 304 before anything is rendered; rendered tiles are kept in a bounded
  in-memory LRU under the same key.
* **Crowded vector tiles** (more than ``FEDMIN_MAX_FEATURES_PER_TILE`` matching
  features) are thinned deterministically: the features with the best priority are kept
  (deposits by development status, cells by rank, lines and polygons by size) and the
  ``Fedmin-Tile-Features: kept/matched`` header tells how many were dropped.
* Tile addresses outside the matrix or the served zooms are a 404 with the reason.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Hashable
from functools import lru_cache, partial
from typing import Annotated, Any

import morecantile
from fastapi import APIRouter, Depends, Request, Response
from rasterio.errors import RasterioIOError
from starlette.concurrency import run_in_threadpool

from app.collections import (
    Collection,
    CollectionRegistry,
    RasterRegistry,
    RasterSpec,
    TileBlob,
    TileCache,
)
from app.deps import (
    base_url,
    collections_dep,
    rasters_dep,
    request_snapshot,
    settings_dep,
    store_dep,
    tile_cache_dep,
)
from app.encoders import MVT, PNG, OrjsonResponse, ogc
from app.encoders.raster import render_png
from app.fastpath import FastPathRoute, PlainQuery, fast_path
from app.params import (
    TILE_MATRIX_SET,
    CollectionId,
    FilterQuery,
    RasterId,
    TileAddress,
    carried_query,
    filter_query,
    plain_filter_query,
    plain_tile_address,
    tile_address,
    tile_matrix_set,
)
from app.settings import Settings
from layers.critical import critical_list_info
from layers.store import Store

#: Bump when tile rendering changes, so clients revalidate old ETags.
RENDER_VERSION = 2
TMS = morecantile.tms.get(TILE_MATRIX_SET)
TMS_DEFINITION = TMS.model_dump(mode="json", exclude_none=True)
MercatorBox = tuple[float, float, float, float]

router = APIRouter(tags=["Tiles"], route_class=FastPathRoute)

Filters = Annotated[FilterQuery, Depends(filter_query)]
Tile = Annotated[TileAddress, Depends(tile_address)]
AppSettings = Annotated[Settings, Depends(settings_dep)]
AppStore = Annotated[Store, Depends(store_dep)]
Registry = Annotated[CollectionRegistry, Depends(collections_dep)]
Base = Annotated[str, Depends(base_url)]
EMPTY_204 = {"description": "Empty tile: no data here for these filters."}
NOT_MODIFIED = {"description": "The ETag in If-None-Match is current."}


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    tags = {t.strip().removeprefix("W/") for t in header.split(",")}
    return "*" in tags or etag in tags


async def _tile_response(
    request: Request,
    key: Hashable,
    render: Callable[[], Awaitable[TileBlob]],
    media_type: str,
    cache: TileCache,
    settings: Settings,
) -> Response:
    """204/304/200 with ETag and Cache-Control; renders only on an LRU miss.

    A coroutine: a 304 and an LRU hit are answered on the event loop; ``render`` sends
    what is heavy to the thread pool."""
    etag = _etag(key)
    headers = {"ETag": etag, "Cache-Control": f"public, max-age={settings.tile_max_age_s}"}
    if _etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    blob = cache.get(key)
    if blob is None:
        blob = await render()
        cache.put(key, blob)
    headers |= blob.headers
    if blob.content is None:
        return Response(status_code=204, headers=headers)
    return Response(blob.content, media_type=media_type, headers=headers)


@lru_cache(maxsize=4096)
def _etag(key: Hashable) -> str:
    """A hash of everything the tile depends on (memoized: a hit skips the ``repr``)."""
    digest = hashlib.blake2b(repr((RENDER_VERSION, key)).encode(), digest_size=16).hexdigest()
    return f'"{digest}"'


def _tile_bounds(tile: TileAddress, settings: Settings) -> tuple[MercatorBox, MercatorBox]:
    """The tile's Web Mercator bounds, and with its buffer."""
    return _bounds(tile.z, tile.x, tile.y, settings.mvt_extent, settings.mvt_buffer)


@lru_cache(maxsize=4096)
def _bounds(z: int, x: int, y: int, extent: int, buffer: int) -> tuple[MercatorBox, MercatorBox]:
    bounds: MercatorBox = tuple(TMS.xy_bounds(x, y, z))  # type: ignore[assignment]
    pad = (bounds[2] - bounds[0]) / extent * buffer
    return bounds, (bounds[0] - pad, bounds[1] - pad, bounds[2] + pad, bounds[3] + pad)


def tile_feature_limit(coll: Collection, z: int, settings: Settings) -> int:
    """How many features a tile of ``coll`` at zoom ``z`` may carry: point collections are
    thinned below ``full_points_zoom`` (the map draws them all on one canvas)."""
    if coll.is_points and z < settings.full_points_zoom:
        return min(settings.max_points_per_tile, settings.max_features_per_tile)
    return settings.max_features_per_tile


async def _render_vector(
    coll: Collection, tile: TileAddress, flt: Any, settings: Settings
) -> TileBlob:
    """Select on the event loop (a box query), encode there too when the tile has few
    features (well under a millisecond; a thread-pool hand-off costs 0.1 to 0.4 ms),
    else in the pool. A filter's first mask (pandas) is computed in the pool."""
    bounds, padded = _tile_bounds(tile, settings)
    if not coll.has_mask(flt):
        await run_in_threadpool(coll.mask, flt)
    limit = tile_feature_limit(coll, tile.z, settings)
    positions, matched = coll.tile_positions(padded, flt, limit)
    encode = partial(
        coll.encode_tile,
        positions,
        coll.tile_attributes_for(flt.critical_list),
        bounds,
        settings.mvt_extent,
        settings.mvt_buffer,
    )
    small = len(positions) <= settings.inline_tile_features
    content = encode() if small else await run_in_threadpool(encode)
    return TileBlob(content, {"Fedmin-Tile-Features": f"{len(positions)}/{matched}"})


@router.get(
    "/collections/{collectionId}/tiles/{tileMatrixSetId}/{z}/{x}/{y}",
    summary="Vector tile (MVT) of a collection",
    description=__doc__,
    response_class=Response,
    responses={200: {"content": {MVT: {}}}, 204: EMPTY_204, 304: NOT_MODIFIED},
)
# Registered first (decorators apply bottom-up) so ``{y}`` does not swallow ``12.mvt``.
@router.get(
    "/collections/{collectionId}/tiles/{tileMatrixSetId}/{z}/{x}/{y}.mvt",
    include_in_schema=False,
)
@fast_path(
    lambda request: {
        "request": request,
        "collection_id": request.path_params["collectionId"],
        "tile": plain_tile_address(request),
        "filters": plain_filter_query(PlainQuery(request.query_params)),
        "registry": request_snapshot(request).collections,
        "cache": request.app.state.tile_cache,
        "settings": request.app.state.settings,
    }
)
async def vector_tile(
    request: Request,
    collection_id: CollectionId,
    tile: Tile,
    filters: Filters,
    registry: Annotated[CollectionRegistry, Depends(collections_dep)],
    cache: Annotated[TileCache, Depends(tile_cache_dep)],
    settings: AppSettings,
) -> Response:
    coll = await registry.aget(collection_id)
    flt = filters.to_filter(coll.spec.filters, f"collection {coll.id!r}")
    key = (
        "mvt",
        coll.id,
        coll.version,
        tile.z,
        tile.x,
        tile.y,
        flt,
        settings.mvt_extent,
        settings.mvt_buffer,
        tile_feature_limit(coll, tile.z, settings),
    )
    return await _tile_response(
        request, key, lambda: _render_vector(coll, tile, flt, settings), MVT, cache, settings
    )


def _field_types(coll: Collection) -> dict[str, str]:
    """TileJSON ``fields``: each tile property and its type."""
    types = {"id": "String"}
    for name in coll.spec.tile_properties:
        dtype = coll.frame[name].dtype
        kind = {"b": "Boolean", "i": "Number", "u": "Number", "f": "Number"}.get(dtype.kind)
        types[name] = kind or "String"
    return types


def _attribution(provenance: list[dict[str, Any]]) -> str:
    return "; ".join(dict.fromkeys(str(p["publisher"]) for p in provenance))


@router.get(
    "/collections/{collectionId}/tiles/{tileMatrixSetId}/tilejson.json",
    summary="TileJSON 3.0 of a collection's vector tiles (tile URL keeps the filters)",
    response_class=OrjsonResponse,
)
def collection_tilejson(
    request: Request,
    collection_id: CollectionId,
    tms: Annotated[str, Depends(tile_matrix_set)],
    filters: Filters,
    registry: Annotated[CollectionRegistry, Depends(collections_dep)],
    settings: AppSettings,
    base: Base,
) -> dict[str, Any]:
    coll = registry.get(collection_id)
    flt = filters.to_filter(coll.spec.filters, f"collection {coll.id!r}")  # refuse bad ones now
    layer = {
        "id": coll.id,
        "description": coll.spec.title,
        "minzoom": settings.min_tile_zoom,
        "maxzoom": settings.max_tile_zoom,
        "fields": _field_types(coll),
    }
    return ogc.tilejson(
        name=coll.spec.title,
        description=coll.spec.description,
        tiles_url=f"{base}/collections/{coll.id}/tiles/{tms}/{{z}}/{{x}}/{{y}}",
        query=carried_query(request, drop=("f",)),
        bounds=coll.bounds,
        settings=settings,
        attribution=_attribution(coll.provenance),
        vector_layers=[layer],
        extra=(
            {"fedmin:criticalList": critical_list_info(flt.critical_list)}
            if "critical_list" in coll.spec.filters
            else None
        ),
    )


@router.get(
    "/collections/{collectionId}/tiles",
    summary="The collection's vector tilesets (OGC API - Tiles)",
    response_class=OrjsonResponse,
)
async def collection_tilesets(
    collection_id: CollectionId, registry: Registry, settings: AppSettings, base: Base
) -> dict[str, Any]:
    coll = await registry.aget(collection_id)
    return ogc.tilesets(coll, base, settings)


@router.get(
    "/collections/{collectionId}/tiles/{tileMatrixSetId}",
    summary="The collection's vector tileset in a tile matrix set (OGC API - Tiles)",
    response_class=OrjsonResponse,
)
async def collection_tileset(
    collection_id: CollectionId,
    tms: Annotated[str, Depends(tile_matrix_set)],
    registry: Registry,
    settings: AppSettings,
    base: Base,
) -> dict[str, Any]:
    coll = await registry.aget(collection_id)
    return ogc.tileset(coll, base, settings)


@router.get("/tileMatrixSets", summary="Tile matrix sets served", response_class=OrjsonResponse)
async def tile_matrix_sets(base: Base) -> dict[str, Any]:
    return ogc.tile_matrix_sets(base)


@router.get(
    "/tileMatrixSets/{tileMatrixSetId}",
    summary="A tile matrix set's definition (OGC Two Dimensional Tile Matrix Set 2.0)",
    response_class=OrjsonResponse,
)
async def tile_matrix_set_definition(
    tms: Annotated[str, Depends(tile_matrix_set)],
) -> dict[str, Any]:
    return TMS_DEFINITION


# --- rasters -----------------------------------------------------------------------------


@router.get("/rasters", summary="Raster layers served as PNG tiles", response_class=OrjsonResponse)
def rasters(
    registry: Annotated[RasterRegistry, Depends(rasters_dep)], base: Base
) -> dict[str, Any]:
    return {
        "links": [ogc.link(f"{base}/rasters", "self", "application/json", "Raster layers")],
        "rasters": [ogc.raster(spec, base) for spec in registry.specs.values()],
    }


def _raster_key(spec: RasterSpec, flt: Any, store: Store, settings: Settings) -> tuple:
    surface = (settings.prospectivity_pixel_m, settings.prospectivity_bandwidth_m)
    return (spec.id, flt, store.build_id, spec.style, surface)


@router.get(
    "/rasters/{rasterId}/tiles/{tileMatrixSetId}/{z}/{x}/{y}.png",
    summary="PNG tile of a raster layer",
    description=(
        "256x256 RGBA PNG: values rescaled linearly over the raster's documented range "
        "(see /rasters: 'style') and coloured with its rio-tiler colormap; alpha 0 on "
        "nodata, outside the raster and below 'transparent_below'. The prospectivity "
        "surface takes the deposit filters and is computed once per filter. "
        + EMPTY_204["description"]
        + " (204)."
    ),
    response_class=Response,
    responses={200: {"content": {PNG: {}}}, 204: EMPTY_204, 304: NOT_MODIFIED},
)
async def raster_tile(
    request: Request,
    raster_id: RasterId,
    tile: Tile,
    filters: Filters,
    registry: Annotated[RasterRegistry, Depends(rasters_dep)],
    cache: Annotated[TileCache, Depends(tile_cache_dep)],
    store: AppStore,
    settings: AppSettings,
) -> Response:
    spec = registry.spec(raster_id)
    flt = filters.to_filter(spec.filters, f"raster {spec.id!r}")

    def render(retry: bool = True) -> TileBlob:
        resolved = registry.resolve(spec, flt)
        if resolved is None:
            return TileBlob(None)
        try:
            return TileBlob(render_png(resolved.path, tile.z, tile.x, tile.y, spec.style))
        except RasterioIOError:
            if not retry or resolved.path.exists():
                raise
            registry.forget(flt)  # evicted from the disk cache meanwhile: compute it again
            return render(retry=False)

    key = ("png", *_raster_key(spec, flt, store, settings), tile.z, tile.x, tile.y)
    return await _tile_response(
        request, key, partial(run_in_threadpool, render), PNG, cache, settings
    )


@router.get(
    "/rasters/{rasterId}/tiles/{tileMatrixSetId}/tilejson.json",
    summary="TileJSON 3.0 of a raster layer (tile URL keeps the filters)",
    response_class=OrjsonResponse,
)
def raster_tilejson(
    request: Request,
    raster_id: RasterId,
    tms: Annotated[str, Depends(tile_matrix_set)],
    filters: Filters,
    registry: Annotated[RasterRegistry, Depends(rasters_dep)],
    store: AppStore,
    settings: AppSettings,
    base: Base,
) -> dict[str, Any]:
    spec = registry.spec(raster_id)
    flt = filters.to_filter(spec.filters, f"raster {spec.id!r}")
    resolved = registry.resolve(spec, flt)
    layers = store.manifest["layers"]
    return ogc.tilejson(
        name=spec.title,
        description=spec.description,
        tiles_url=f"{base}/rasters/{spec.id}/tiles/{tms}/{{z}}/{{x}}/{{y}}.png",
        query=carried_query(request, drop=("f",)),
        bounds=resolved.bounds if resolved else spec.bounds,
        settings=settings,
        attribution="; ".join(dict.fromkeys(layers[i]["publisher"] for i in spec.layer_ids)),
        extra={
            "fedmin:style": spec.style.to_dict(),
            "fedmin:empty": resolved is None,
            **(
                {"fedmin:criticalList": critical_list_info(flt.critical_list)}
                if "critical_list" in spec.filters
                else {}
            ),
        },
    )
