"""OGC API - Features Part 1 (Core, GeoJSON, HTML, OpenAPI 3.0).

JSON by default, HTML for ``f=html`` or a browser's Accept header. Items are GeoJSON
pre-serialized by ``app.encoders.geojson`` and sent as ``application/geo+json`` bytes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from app.collections import CollectionRegistry
from app.deps import base_url, collections_dep, request_snapshot, settings_dep, store_dep
from app.encoders import GEOJSON, JSON, OrjsonResponse, geojson, html, ogc
from app.fastpath import FastPathRoute, fast_path
from app.params import (
    CRS84,
    CollectionId,
    ItemsQuery,
    OutputFormat,
    carried_query,
    items_query,
    output_format,
    plain_items_query,
)
from app.settings import Settings
from layers.critical import critical_list_info
from layers.store import Store

router = APIRouter(tags=["OGC API - Features"], route_class=FastPathRoute)

FeatureId = Annotated[
    str, Path(alias="featureId", description="Feature id.", examples=["mrds:10034372"])
]
Base = Annotated[str, Depends(base_url)]
Fmt = Annotated[OutputFormat, Depends(output_format)]
Registry = Annotated[CollectionRegistry, Depends(collections_dep)]
AppSettings = Annotated[Settings, Depends(settings_dep)]
#: The JSON documents are also served as HTML (``f=html`` or a browser's Accept header).
ALSO_HTML: dict[int | str, dict[str, Any]] = {200: {"content": {"text/html": {}}}}


def _respond(doc: dict[str, Any], fmt: OutputFormat, title: str) -> Response:
    if fmt == "html":
        return HTMLResponse(html.render(doc, title))
    return OrjsonResponse(doc)


async def _geojson_or_html(content: bytes, fmt: OutputFormat, title: str) -> Response:
    """Pre-serialized GeoJSON as is; HTML re-reads it (HTML pages are for people, small),
    in the thread pool."""
    if fmt == "html":
        page = await run_in_threadpool(html.render, orjson.loads(content), title)
        return HTMLResponse(page)
    return Response(content, media_type=GEOJSON, headers={"Content-Crs": f"<{CRS84}>"})


@router.get("/", summary="Landing page", response_class=OrjsonResponse, responses=ALSO_HTML)
def landing_page(base: Base, fmt: Fmt) -> Response:
    return _respond(ogc.landing(base), fmt, "fedmin")


@router.get(
    "/conformance",
    summary="Conformance classes",
    response_class=OrjsonResponse,
    responses=ALSO_HTML,
)
def conformance(fmt: Fmt) -> Response:
    return _respond(ogc.conformance(), fmt, "Conformance")


@router.get(
    "/collections",
    summary="Feature collections",
    response_class=OrjsonResponse,
    responses=ALSO_HTML,
)
def collections(
    registry: Registry,
    store: Annotated[Store, Depends(store_dep)],
    settings: AppSettings,
    base: Base,
    fmt: Fmt,
) -> Response:
    docs = [
        ogc.collection(spec, registry.loaded(cid), store.manifest, base, settings)
        for cid, spec in registry.specs.items()
    ]
    return _respond(ogc.collections(docs, base), fmt, "Collections")


@router.get(
    "/collections/{collectionId}",
    summary="One collection: metadata, extent, provenance",
    response_class=OrjsonResponse,
    responses=ALSO_HTML,
)
def collection(
    collection_id: CollectionId,
    registry: Registry,
    store: Annotated[Store, Depends(store_dep)],
    settings: AppSettings,
    base: Base,
    fmt: Fmt,
) -> Response:
    spec = registry.spec(collection_id)
    doc = ogc.collection(spec, registry.loaded(spec.id), store.manifest, base, settings)
    return _respond(doc, fmt, spec.title)


@router.get(
    "/collections/{collectionId}/items",
    summary="Features of a collection, filtered and paged",
    description=(
        "GeoJSON FeatureCollection with numberMatched, numberReturned, timeStamp and "
        "self/next/prev/collection links. Filters a collection does not take are a 400 "
        "(see fedmin:filters in the collection document)."
    ),
    response_class=Response,
    responses={200: {"content": {GEOJSON: {}, "text/html": {}}}},
)
@fast_path(
    lambda request: {
        "request": request,
        "collection_id": request.path_params["collectionId"],
        "q": plain_items_query(request),
    }
)
async def items(
    request: Request,
    collection_id: CollectionId,
    q: Annotated[ItemsQuery, Depends(items_query)],
) -> Response:
    # A coroutine: the features are pre-encoded, so a page is an index lookup and a join;
    # only a lazy collection's first build and a new filter's mask (pandas) use the pool.
    # The registry and base URL are read here, not through more dependencies (the cost
    # of this page is mostly FastAPI's per-dependency work).
    coll = await request_snapshot(request).collections.aget(collection_id)
    flt = q.filters.to_filter(coll.spec.filters, f"collection {coll.id!r}")
    if not coll.has_mask(flt):
        await run_in_threadpool(coll.mask, flt)
    matched = coll.select(flt, q.bbox)
    if q.cql is not None:  # CQL2 (Part 3): pandas work, memoized per collection
        cql_mask = await run_in_threadpool(coll.cql_mask, q.cql)
        matched = matched[cql_mask[matched]]
    if q.sortby:
        matched = await run_in_threadpool(coll.sorted_positions, matched, q.sortby)
    page = q.page
    positions = matched[page.offset : page.offset + page.limit]
    url = f"{await base_url(request)}/collections/{coll.id}"
    query = carried_query(request, drop=("f", "offset", "limit"))
    members = {
        "timeStamp": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "numberMatched": len(matched),
        "numberReturned": len(positions),
        "links": ogc.page_links(f"{url}/items", query, page.offset, page.limit, len(matched), url),
    }
    if "critical_list" in coll.spec.filters:
        members["fedmin:criticalList"] = critical_list_info(flt.critical_list)
    await coll.wait_for_features()
    content = geojson.feature_collection(coll, positions, members, q.properties)
    return await _geojson_or_html(content, q.fmt, f"{coll.spec.title}: features")


@router.get(
    "/collections/{collectionId}/queryables",
    summary="The properties a filter (CQL2) or sortby may name, as a JSON Schema",
    response_class=OrjsonResponse,
    responses={200: {"content": {"application/schema+json": {}}}},
)
async def queryables(collection_id: CollectionId, registry: Registry, base: Base) -> Response:
    coll = await registry.aget(collection_id)
    return OrjsonResponse(ogc.queryables(coll, base), media_type="application/schema+json")


@router.get(
    "/collections/{collectionId}/items/{featureId}",
    summary="One feature by id",
    description=(
        "In `deposits`, the id of a record linked into a site (an MRDS duplicate, a mine "
        "symbol) redirects (308) to its site."
    ),
    response_class=Response,
    responses={
        200: {"content": {GEOJSON: {}, "text/html": {}}},
        308: {"description": "The id is a record of a site: the site's item URL."},
    },
)
async def item(
    collection_id: CollectionId, feature_id: FeatureId, registry: Registry, base: Base, fmt: Fmt
) -> Response:
    coll = await registry.aget(collection_id)
    url = f"{base}/collections/{coll.id}"
    if feature_id in coll.site_of:  # a record linked into a site: the site is its feature
        query = "?f=html" if fmt == "html" else ""
        return RedirectResponse(f"{url}/items/{coll.site_of[feature_id]}{query}", status_code=308)
    position = coll.position(feature_id)
    links = [
        ogc.link(f"{url}/items/{feature_id}", "self", GEOJSON, "This feature"),
        ogc.link(f"{url}/items/{feature_id}?f=html", "alternate", "text/html", "As HTML"),
        ogc.link(url, "collection", JSON, "The collection"),
    ]
    await coll.wait_for_features()
    content = geojson.feature(coll, position, links)
    return await _geojson_or_html(content, fmt, f"{coll.spec.title}: {feature_id}")
