"""ArcGIS REST feature and map service layers, queried and paged to the end.

One catalog source names a layer URL (``.../MapServer/1``, ``.../FeatureServer/0``); a fetch
runs one *query* per area part (a state, or a bounding box) with the source's ``where``
clause, and pages each query to its end:

1. ``GET <layer>?f=json``: the layer's metadata (``maxRecordCount``, object-id field,
   ``supportsPagination``, ``editingInfo.lastEditDate``).
2. ``GET <layer>/query?...&returnCountOnly=true``: how many features the query matches.
3. Pages of at most ``maxRecordCount`` features (``resultOffset`` / ``resultRecordCount``,
   ordered by object id so paging is stable), until a page no longer says
   ``exceededTransferLimit``. A layer without ``supportsPagination`` is paged by object-id
   ranges instead (``returnIdsOnly``, then ``OBJECTID >= a AND OBJECTID <= b``).
4. The pages' features, deduplicated by object id across area parts and sorted by it,
   become one ESRI JSON file (read by GDAL's ESRIJSON driver, like any other source).

Why the paging is here and not GDAL's: GDAL's ESRIJSON driver pages by itself (and the
tests check it reads the emulator to the same count), but it holds every page in memory,
restarts from the first page after any failure and cannot say which page failed. Each page
here is written atomically to ``raw/.partial/arcgis/<query key>/`` as it arrives, so a
fetch killed or failed at page 37 resumes at page 37 and ends with the same bytes (and
sha256) as an uninterrupted one; GDAL still decodes the geometry when the store is built.

A page whose fields differ from the first page's (the service's schema changed under us)
or a total that differs from the count the service announced fails with the query, page
and numbers, and discards that query's pages so the rerun starts it afresh. Nothing is
written to the raw directory until every page of every query is in.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from tqdm import tqdm

from layers.errors import FetchError
from layers.sources.http import RETRY_STATUS, PoliteClient, Retryable
from layers.sources.staging import remove_tree, write_atomic

log = logging.getLogger(__name__)

DEFAULT_MAX_RECORDS = 1000


@dataclass(frozen=True)
class Query:
    """One query against one layer: an attribute filter and an optional envelope."""

    layer_url: str
    where: str = "1=1"
    envelope: tuple[float, float, float, float] | None = None
    out_fields: str = "*"
    label: str = "all"

    def params(self) -> dict[str, str]:
        params = {"where": self.where, "outFields": self.out_fields, "f": "json"}
        if self.envelope is not None:
            params |= {
                "geometry": ",".join(f"{v:.6f}" for v in self.envelope),
                "geometryType": "esriGeometryEnvelope",
                "inSR": "4326",
                "spatialRel": "esriSpatialRelIntersects",
            }
        return params

    def describe(self) -> dict[str, Any]:
        """The query as recorded in fetch.json and the store manifest."""
        return {"label": self.label, "url": f"{self.layer_url}/query", **self.params()}


@dataclass
class Paged:
    """What a paged fetch produced: the merged ESRI JSON and how it was obtained."""

    payload: bytes
    features: int
    pages: int
    counts: dict[str, int]
    #: The stored pages, to discard once the merged file is committed.
    pages_dir: Path
    metadata: dict[str, Any] = field(default_factory=dict)


def layer_metadata(client: PoliteClient, layer_url: str, what: str) -> dict[str, Any]:
    response = client.request(
        "GET", layer_url, f"{what}: layer metadata", params={"f": "json"}, check=_check_json
    )
    return response.json()


def count(client: PoliteClient, query: Query, what: str) -> int:
    """The number of features the query matches (``returnCountOnly``), without fetching."""
    params = query.params() | {"returnCountOnly": "true"}
    params.pop("outFields")
    response = client.request(
        "GET", f"{query.layer_url}/query", f"{what}: count", params=params, check=_check_json
    )
    body = response.json()
    if not isinstance(body.get("count"), int):
        raise FetchError(f"{what}: the count query answered without a count: {body!r:.200}")
    return body["count"]


def fetch_pages(
    client: PoliteClient,
    queries: list[Query],
    workdir: Path,
    what: str,
    *,
    page_size: int | None = None,
    progress: bool = True,
) -> Paged:
    """Page every query to its end (resuming from ``workdir``) and merge the features."""
    if not queries:
        raise FetchError(f"{what}: nothing to query")
    metadata = layer_metadata(client, queries[0].layer_url, what)
    oid = _oid_field(metadata)
    limit = int(metadata.get("maxRecordCount") or DEFAULT_MAX_RECORDS)
    size = min(limit, page_size) if page_size else limit
    paginates = metadata.get("advancedQueryCapabilities", {}).get("supportsPagination", True)
    key = _key(queries, size, paginates)
    pages_dir = workdir / key
    pages_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(pages_dir / "plan.json", _plan(queries, size).encode())
    merged: dict[int, dict[str, Any]] = {}
    header: dict[str, Any] | None = None
    counts: dict[str, int] = {}
    pages = 0
    for index, query in enumerate(queries):
        expected = count(client, query, f"{what} [{query.label}]")
        counts[query.label] = expected
        pager = _offset_pages if paginates else _id_range_pages
        with tqdm(
            total=expected,
            desc=f"{what} [{query.label}]",
            unit="feature",
            disable=not progress,
            leave=False,
        ) as bar:
            got = 0
            for number, page in pager(client, query, oid, size, pages_dir, index, what):
                pages += 1
                header = header or page
                if _schema(page) != _schema(header):
                    remove_tree(pages_dir)
                    raise FetchError(
                        f"{what} [{query.label}]: page {number} has fields "
                        f"{_schema(page)} but the first page had {_schema(header)}: the "
                        "service's schema changed during the fetch. Its pages were "
                        "discarded; run `fedmin data fetch` again."
                    )
                for feature in page["features"]:
                    merged[int(feature["attributes"][oid])] = feature
                got += len(page["features"])
                bar.update(len(page["features"]))
        if got != expected:
            remove_tree(pages_dir)
            raise FetchError(
                f"{what} [{query.label}]: the service counted {expected} features but its "
                f"pages held {got}; the data may have changed during the fetch. The pages "
                "were discarded; run `fedmin data fetch` again."
            )
    assert header is not None
    collection = {
        "objectIdFieldName": oid,
        "geometryType": header.get("geometryType"),
        "spatialReference": header.get("spatialReference", {"wkid": 4326}),
        "fields": header.get("fields", []),
        "features": [merged[k] for k in sorted(merged)],
    }
    payload = json.dumps(collection, sort_keys=True, separators=(",", ":")).encode()
    info = {
        "name": metadata.get("name"),
        "maxRecordCount": limit,
        "page_size": size,
        "paging": "resultOffset" if paginates else "object-id ranges",
        "lastEditDate": metadata.get("editingInfo", {}).get("lastEditDate"),
    }
    return Paged(payload, len(merged), pages, counts, pages_dir, info)


# --- paging ------------------------------------------------------------------------------


def _offset_pages(
    client: PoliteClient, query: Query, oid: str, size: int, pages_dir: Path, index: int, what: str
):
    """``resultOffset`` paging, each page stored (or reused) as ``q<i>-p<n>.json``."""
    offset, number = 0, 0
    while True:
        page = _page(
            client,
            query,
            pages_dir / f"q{index:02d}-p{number:05d}.json",
            {
                "orderByFields": f"{oid} ASC",
                "resultOffset": str(offset),
                "resultRecordCount": str(size),
            },
            f"{what} [{query.label}] page {number} (resultOffset {offset})",
        )
        yield number, page
        offset += len(page["features"])
        number += 1
        if not page.get("exceededTransferLimit") or not page["features"]:
            return


def _id_range_pages(
    client: PoliteClient, query: Query, oid: str, size: int, pages_dir: Path, index: int, what: str
):
    """Object-id ranges for layers that cannot page by offset."""
    ids_file = pages_dir / f"q{index:02d}-ids.json"
    if ids_file.is_file():
        ids = json.loads(ids_file.read_text())
    else:
        params = query.params() | {"returnIdsOnly": "true"}
        params.pop("outFields")
        response = client.request(
            "GET",
            f"{query.layer_url}/query",
            f"{what} [{query.label}]: object ids",
            params=params,
            check=_check_json,
        )
        ids = sorted(int(i) for i in response.json().get("objectIds") or [])
        write_atomic(ids_file, json.dumps(ids).encode())
    for number, start in enumerate(range(0, len(ids), size)):
        low, high = ids[start], ids[min(start + size, len(ids)) - 1]
        ranged = Query(
            query.layer_url,
            f"({query.where}) AND {oid} >= {low} AND {oid} <= {high}",
            query.envelope,
            query.out_fields,
            query.label,
        )
        yield (
            number,
            _page(
                client,
                ranged,
                pages_dir / f"q{index:02d}-p{number:05d}.json",
                {"orderByFields": f"{oid} ASC"},
                f"{what} [{query.label}] page {number} ({oid} {low}..{high})",
            ),
        )


def _page(
    client: PoliteClient, query: Query, path: Path, extra: dict[str, str], what: str
) -> dict[str, Any]:
    """One page: reused from disk when an earlier run stored it, else fetched and stored."""
    if path.is_file():
        return json.loads(path.read_bytes())
    params = query.params() | extra | {"outSR": "4326", "returnGeometry": "true"}
    response = client.request(
        "GET", f"{query.layer_url}/query", what, params=params, check=_check_page
    )
    page = response.json()
    write_atomic(path, json.dumps(page, sort_keys=True, separators=(",", ":")).encode())
    return page


# --- checks ------------------------------------------------------------------------------


def _check_json(response: httpx.Response) -> None:
    """A JSON answer, not an ArcGIS error object (retry those the server calls transient)."""
    try:
        body = response.json()
    except ValueError as exc:
        raise Retryable(f"not JSON ({response.headers.get('content-type')}): {exc}") from exc
    error = body.get("error") if isinstance(body, dict) else None
    if error:
        code = error.get("code")
        reason = f"ArcGIS error {code}: {error.get('message')} {error.get('details') or ''}"
        if code in RETRY_STATUS:
            raise Retryable(reason.strip())
        raise FetchError(f"{response.url}: {reason.strip()}")


def _check_page(response: httpx.Response) -> None:
    _check_json(response)
    body = response.json()
    if not isinstance(body.get("features"), list):
        raise Retryable(f"a page without features: {str(body)[:200]}")


def _oid_field(metadata: dict[str, Any]) -> str:
    if metadata.get("objectIdField"):
        return str(metadata["objectIdField"])
    for item in metadata.get("fields") or []:
        if item.get("type") == "esriFieldTypeOID":
            return str(item["name"])
    return "OBJECTID"


def _schema(page: dict[str, Any]) -> list[tuple[str, str]]:
    return [(f.get("name"), f.get("type")) for f in page.get("fields") or []]


def _plan(queries: list[Query], size: int) -> str:
    return json.dumps(
        {"page_size": size, "queries": [q.describe() for q in queries]}, sort_keys=True
    )


def _key(queries: list[Query], size: int, paginates: bool) -> str:
    text = _plan(queries, size) + str(paginates)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
