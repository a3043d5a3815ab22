"""OGC API documents (landing page, conformance, collections, links) and TileJSON 3.0.

Built from the registries as plain dicts; small enough for ORJSONResponse. Every href is
absolute, made from the request's base URL, as the OGC API standards require.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote_plus, urlencode

import morecantile

from app.collections import Collection, CollectionSpec, RasterSpec
from app.encoders import GEOJSON, HTML, JSON, MVT, OPENAPI, PNG
from app.params import CRS84, FILTER_PARAMS, TILE_MATRIX_SET
from app.settings import Settings
from geo.landcoverage import coverage_summary, declared_coverage
from layers.critical import CRITICAL_LIST_IDS, critical_list_info

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    # Part 3 (filtering) and the CQL2 classes tests/app/test_cql.py exercises; not
    # queryables-query-parameters: only some queryables (state, dev_status, ...) are
    # also query parameters, a CQL2 ``filter`` reaches the others
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
    # OGC API - Tiles: vector tilesets of the collections (tests/app/test_ogc_tiles.py)
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tileset",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tilesets-list",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/geodata-tilesets",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/oas30",
]
QUERYABLES = "http://www.opengis.net/def/rel/ogc/1.0/queryables"
TILESETS_VECTOR = "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector"
TILING_SCHEME = "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme"
TILING_SCHEMES = "http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes"
WEB_MERCATOR_QUAD_URI = "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"
EPSG_3857 = "http://www.opengis.net/def/crs/EPSG/0/3857"
WEB_MERCATOR = morecantile.tms.get(TILE_MATRIX_SET)
TILESETS_MAP = "http://www.opengis.net/def/rel/ogc/1.0/tilesets-map"


def link(href: str, rel: str, type_: str, title: str | None = None, **extra: Any) -> dict:
    out = {"href": href, "rel": rel, "type": type_}
    if title:
        out["title"] = title
    return out | extra


def with_query(url: str, params: dict[str, Any]) -> str:
    query = urlencode([(k, v) for k, v in params.items() if v is not None], doseq=True)
    return f"{url}?{query}" if query else url


def landing(base: str) -> dict[str, Any]:
    return {
        "title": "fedmin",
        "description": (
            "Mineral deposits on US federal lands: OGC API - Features collections of "
            "deposits, land status, claims, infrastructure and ranked cells, with vector and "
            "raster tiles. Real public data (USGS, USFS, BLM, NPS, Census)."
        ),
        "links": [
            link(f"{base}/", "self", JSON, "This document"),
            link(f"{base}/?f=html", "alternate", HTML, "This document as HTML"),
            link(f"{base}/openapi.json", "service-desc", OPENAPI, "The API definition"),
            link(f"{base}/docs", "service-doc", HTML, "The API documentation"),
            link(f"{base}/conformance", "conformance", JSON, "Conformance classes"),
            link(f"{base}/collections", "data", JSON, "Feature collections"),
            link(f"{base}/rasters", "data", JSON, "Raster layers (tiles)"),
            link(f"{base}/tileMatrixSets", TILING_SCHEMES, JSON, "Tile matrix sets"),
            link(f"{base}/map", "alternate", HTML, "Interactive map"),
        ],
    }


def conformance() -> dict[str, Any]:
    return {"conformsTo": CONFORMANCE}


def _extent(bounds: list[float] | None) -> dict[str, Any]:
    spatial = {"bbox": [bounds], "crs": CRS84} if bounds else {"crs": CRS84}
    return {"spatial": spatial}


def _union(boxes: list[list[float]]) -> list[float] | None:
    if not boxes:
        return None
    return [
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    ]


def _provenance_text(provenance: list[dict[str, Any]]) -> str:
    return " ".join(
        f"Source: {p['title']} ({p['publisher']}; license: {p['license']}). Caveats: {p['caveats']}"
        for p in provenance
    )


def collection(
    spec: CollectionSpec,
    loaded: Collection | None,
    manifest: dict[str, Any],
    base: str,
    settings: Settings,
) -> dict[str, Any]:
    """A collection's metadata; ``loaded`` is None for a lazy one not yet computed."""
    url = f"{base}/collections/{spec.id}"
    doc: dict[str, Any] = {
        "id": spec.id,
        "title": spec.title,
        "itemType": "feature",
        "crs": [CRS84],
        "storageCrs": CRS84,
    }
    links = [
        link(url, "self", JSON, "This collection"),
        link(f"{url}?f=html", "alternate", HTML, "This collection as HTML"),
        link(f"{url}/items", "items", GEOJSON, "Features"),
        link(f"{url}/items?f=html", "items", HTML, "Features as HTML"),
        link(f"{url}/queryables", QUERYABLES, "application/schema+json", "Queryables"),
        link(f"{url}/tiles", TILESETS_VECTOR, JSON, "Vector tilesets (OGC API - Tiles)"),
        link(f"{url}/tiles/{TILE_MATRIX_SET}/tilejson.json", "describedby", JSON, "TileJSON"),
        link(
            f"{url}/tiles/{TILE_MATRIX_SET}/{{z}}/{{x}}/{{y}}",
            "item",
            MVT,
            "Vector tiles",
            templated=True,
        ),
    ]
    names = {field: name for name, field in FILTER_PARAMS.items()}
    extra: dict[str, Any] = {
        "fedmin:filters": [names[f] for f in spec.filters],
        "fedmin:pageLimit": {
            "default": settings.default_page_limit,
            "maximum": settings.max_page_limit,
        },
        "fedmin:computed": loaded is not None,
        "fedmin:landCoverage": coverage_summary(declared_coverage(manifest)),
    }
    if "critical_list" in spec.filters:
        extra["fedmin:criticalLists"] = [critical_list_info(i) for i in CRITICAL_LIST_IDS]
    if loaded is None:
        doc["description"] = spec.description
        doc["extent"] = _extent(None)
    else:
        layer_boxes = [manifest["layers"][i].get("bounds") for i in loaded.layer_ids]
        bounds = (
            _union([b for b in layer_boxes if b]) if not spec.lazy else loaded.bounds
        ) or loaded.bounds
        doc["description"] = f"{spec.description} {_provenance_text(loaded.provenance)}".strip()
        doc["extent"] = _extent(bounds)
        extra |= {
            "fedmin:numberOfFeatures": len(loaded),
            "fedmin:properties": loaded.columns,
            "fedmin:tileProperties": ["id", *spec.tile_properties],
            "fedmin:provenance": loaded.provenance,
        }
    return doc | {"links": links} | extra


def queryables(coll: Collection, base: str) -> dict[str, Any]:
    """The collection's queryables as a JSON Schema (OGC API - Features Part 3)."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{base}/collections/{coll.id}/queryables",
        "type": "object",
        "title": coll.spec.title,
        "properties": coll.queryables,
        "additionalProperties": False,
    }


def collections(docs: list[dict[str, Any]], base: str) -> dict[str, Any]:
    return {
        "links": [
            link(f"{base}/collections", "self", JSON, "The collections"),
            link(f"{base}/collections?f=html", "alternate", HTML, "The collections as HTML"),
        ],
        "collections": docs,
    }


def page_links(
    url: str,
    query: dict[str, Any],
    offset: int,
    limit: int,
    matched: int,
    collection_url: str,
) -> list[dict[str, Any]]:
    """self/alternate/next/prev/collection links of an items page, keeping the query."""

    # with_query(url, {**query, "offset": o, "limit": limit, "f": fmt}) with the carried
    # query encoded once per page rather than once per link
    carried = urlencode([(k, v) for k, v in query.items() if v is not None], doseq=True)
    head = f"{url}?{carried}&offset=" if carried else f"{url}?offset="
    tail = f"&limit={limit}"

    def at(new_offset: int, fmt: str | None = None) -> str:
        href = f"{head}{new_offset}{tail}"
        return f"{href}&f={quote_plus(fmt)}" if fmt is not None else href

    links = [
        link(at(offset), "self", GEOJSON, "This page"),
        link(at(offset, "html"), "alternate", HTML, "This page as HTML"),
        link(collection_url, "collection", JSON, "The collection"),
    ]
    if offset + limit < matched:
        links.append(link(at(offset + limit), "next", GEOJSON, "Next page"))
    if offset > 0 and matched > 0:  # past the end: prev is the last page that has features
        links.append(
            link(at(max(0, min(offset, matched) - limit)), "prev", GEOJSON, "Previous page")
        )
    return links


def _matrix_limits(bounds: list[float] | None, z: int) -> dict[str, Any]:
    """The rows and columns of tile matrix ``z`` the collection's extent covers (all of
    them for an empty collection), so a client asks no tile of empty ocean."""
    side = (1 << z) - 1
    if not bounds:
        rows = cols = (0, side)
    else:
        minx, miny, maxx, maxy = bounds
        top_left = WEB_MERCATOR.tile(max(minx, -180), min(maxy, 85.0511), z)
        bottom_right = WEB_MERCATOR.tile(min(maxx, 179.9999), max(miny, -85.0511), z)
        cols = (top_left.x, bottom_right.x) if minx <= maxx else (0, side)
        rows = (top_left.y, bottom_right.y)
    return {
        "tileMatrix": str(z),
        "minTileRow": rows[0],
        "maxTileRow": rows[1],
        "minTileCol": cols[0],
        "maxTileCol": cols[1],
    }


def tileset(coll: Collection, base: str, settings: Settings) -> dict[str, Any]:
    """A collection's vector tileset in WebMercatorQuad (OGC API - Tiles, tileset)."""
    url = f"{base}/collections/{coll.id}/tiles/{TILE_MATRIX_SET}"
    limits = [
        _matrix_limits(coll.bounds, z)
        for z in range(settings.min_tile_zoom, settings.max_tile_zoom + 1)
    ]
    fields = {"id": {"type": "string"}} | {
        name: {"type": "string"} for name in coll.spec.tile_properties
    }
    return {
        "title": f"{coll.spec.title} (vector tiles)",
        "dataType": "vector",
        "crs": EPSG_3857,
        "tileMatrixSetURI": WEB_MERCATOR_QUAD_URI,
        "links": [
            link(url, "self", JSON, "This tileset"),
            link(
                f"{base}/tileMatrixSets/{TILE_MATRIX_SET}", TILING_SCHEME, JSON, "WebMercatorQuad"
            ),
            link(
                f"{url}/{{tileMatrix}}/{{tileCol}}/{{tileRow}}",
                "item",
                MVT,
                "Mapbox vector tiles",
                templated=True,
            ),
            link(f"{url}/tilejson.json", "describedby", JSON, "TileJSON"),
        ],
        "tileMatrixSetLimits": limits,
        "layers": [
            {
                "id": coll.id,
                "title": coll.spec.title,
                "dataType": "vector",
                "minTileMatrix": str(settings.min_tile_zoom),
                "maxTileMatrix": str(settings.max_tile_zoom),
                "propertiesSchema": {"type": "object", "properties": fields},
            }
        ],
    }


def tilesets(coll: Collection, base: str, settings: Settings) -> dict[str, Any]:
    """The tilesets list of a collection: its one WebMercatorQuad vector tileset."""
    one = tileset(coll, base, settings)
    summary = {k: one[k] for k in ("title", "dataType", "crs", "tileMatrixSetURI", "links")}
    return {
        "links": [link(f"{base}/collections/{coll.id}/tiles", "self", JSON, "Tilesets")],
        "tilesets": [summary],
    }


def tile_matrix_sets(base: str) -> dict[str, Any]:
    return {
        "tileMatrixSets": [
            {
                "id": TILE_MATRIX_SET,
                "title": "Google Maps Compatible for the World",
                "uri": WEB_MERCATOR_QUAD_URI,
                "links": [
                    link(f"{base}/tileMatrixSets/{TILE_MATRIX_SET}", "self", JSON, TILE_MATRIX_SET)
                ],
            }
        ]
    }


def tilejson(
    *,
    name: str,
    description: str,
    tiles_url: str,
    query: dict[str, Any],
    bounds: list[float] | None,
    settings: Settings,
    attribution: str,
    vector_layers: list[dict[str, Any]] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A TileJSON 3.0 document whose tile URL carries the request's filters."""
    tile_url = with_query(tiles_url, query)
    bounds = bounds or [-180.0, -85.051129, 180.0, 85.051129]
    zoom = max(settings.min_tile_zoom, min(settings.max_tile_zoom, 6))
    doc: dict[str, Any] = {
        "tilejson": "3.0.0",
        "name": name,
        "description": description,
        "attribution": attribution,
        "scheme": "xyz",
        "tiles": [tile_url],
        "minzoom": settings.min_tile_zoom,
        "maxzoom": settings.max_tile_zoom,
        "bounds": bounds,
        "center": [(bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2, zoom],
    }
    if vector_layers is not None:
        doc["vector_layers"] = vector_layers
    return doc | (extra or {})


def raster(spec: RasterSpec, base: str) -> dict[str, Any]:
    url = f"{base}/rasters/{spec.id}"
    names = {field: name for name, field in FILTER_PARAMS.items()}
    return {
        "id": spec.id,
        "title": spec.title,
        "description": spec.description,
        "filters": [names[f] for f in spec.filters],
        "style": spec.style.to_dict(),
        "links": [
            link(f"{url}/tiles/{TILE_MATRIX_SET}/tilejson.json", TILESETS_MAP, JSON, "TileJSON"),
            link(
                f"{url}/tiles/{TILE_MATRIX_SET}/{{z}}/{{x}}/{{y}}.png",
                "item",
                PNG,
                "PNG tiles",
                templated=True,
            ),
        ],
    }
