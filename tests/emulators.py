"""Local emulators of the official services, on 127.0.0.1, for the fetch tests (no internet).

* :class:`ArcgisEmulator` speaks the ArcGIS REST API as the BLM, HIFLD and PAD-US servers
  do, for layers built from REAL mirror files: layer metadata (``?f=json``:
  ``maxRecordCount``, ``objectIdField``, ``advancedQueryCapabilities``, ``fields``,
  ``editingInfo``) and ``/query`` with ``where``, ``geometry`` (an envelope), ``outFields``,
  ``returnCountOnly``, ``returnIdsOnly``, ``orderByFields``, ``resultOffset`` /
  ``resultRecordCount`` and ``exceededTransferLimit``, in ``f=json`` (ESRI JSON) and
  ``f=geojson``. The ``where`` grammar is the subset fedmin and GDAL send: ``1=1``,
  ``F = 'x'``, ``F <> 'x'``, ``F IN ('a', 'b')``, ``F >= n``, ``F <= n``, joined by ``AND``.
* :class:`FileEmulator` serves bytes with ``ETag``, ``Last-Modified``, ``HEAD`` and byte
  ``Range`` requests (``If-Range`` honoured), like a static agency file server; it also
  serves a git tree listing and raw files for the MinMod repository adapter.

Faults are injected per request kind (``metadata``, ``count``, ``ids``, ``page``, ``file``)
and, for pages, per ``resultOffset``: a page that stalls past the client's timeout, a 500 or
429 (with ``Retry-After``) that clears after ``times`` requests, an ArcGIS error object, a
page whose fields changed, a count that disagrees with the pages, a connection cut mid-body,
and a complete-looking but truncated file. Every request is logged in ``requests``.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

OID = "OBJECTID"


@dataclass
class Fault:
    """What goes wrong, for which requests, how many times (None: every time)."""

    kind: str  # metadata | count | ids | page | file
    action: str  # stall | 500 | 429 | arcgis_error | schema | count_off | cut | truncate | delay
    offset: int | None = None  # pages: only this resultOffset
    times: int | None = 1
    seconds: float = 1.0  # stall / delay duration, Retry-After value
    path: str | None = None  # files: only this path

    def applies(self, kind: str, offset: int | None, path: str | None) -> bool:
        if self.kind != kind or self.times == 0:
            return False
        if self.offset is not None and self.offset != offset:
            return False
        return self.path is None or self.path == path

    def use(self) -> None:
        if self.times is not None:
            self.times -= 1


@dataclass
class EmulatedLayer:
    """A real mirror layer served as one ArcGIS layer (object ids 1..n in file order)."""

    name: str
    frame: gpd.GeoDataFrame
    max_record_count: int = 500
    supports_pagination: bool = True
    last_edit_date: int = 1_700_000_000_000

    def __post_init__(self) -> None:
        frame = self.frame.to_crs(4326) if self.frame.crs is not None else self.frame
        frame = frame.reset_index(drop=True)
        frame.insert(0, OID, np.arange(1, len(frame) + 1))
        self.frame = frame

    @property
    def geometry_type(self) -> str:
        kinds = set(shapely.get_type_id(self.frame.geometry.to_numpy()))
        if kinds <= {3, 6}:
            return "esriGeometryPolygon"
        if kinds <= {1, 5}:
            return "esriGeometryPolyline"
        return "esriGeometryPoint"

    def fields(self, names: list[str] | None = None) -> list[dict[str, str]]:
        out = []
        for column in self.frame.columns:
            if column == "geometry" or (names is not None and column not in names):
                continue
            dtype = self.frame[column].dtype
            if column == OID:
                kind = "esriFieldTypeOID"
            elif pd.api.types.is_integer_dtype(dtype):
                kind = "esriFieldTypeInteger"
            elif pd.api.types.is_float_dtype(dtype):
                kind = "esriFieldTypeDouble"
            else:
                kind = "esriFieldTypeString"
            out.append({"name": column, "type": kind, "alias": column})
        return out

    def metadata(self, layer_id: int) -> dict[str, Any]:
        minx, miny, maxx, maxy = self.frame.total_bounds
        return {
            "currentVersion": 10.91,
            "id": layer_id,
            "name": self.name,
            "type": "Feature Layer",
            "geometryType": self.geometry_type,
            "objectIdField": OID,
            "displayField": self.frame.columns[1],
            "maxRecordCount": self.max_record_count,
            "supportedQueryFormats": "JSON, geoJSON, PBF",
            "advancedQueryCapabilities": {"supportsPagination": self.supports_pagination},
            "extent": {
                "xmin": minx,
                "ymin": miny,
                "xmax": maxx,
                "ymax": maxy,
                "spatialReference": {"wkid": 4326},
            },
            "editingInfo": {"lastEditDate": self.last_edit_date},
            "fields": self.fields(),
        }


class WhereError(ValueError):
    pass


_CLAUSE = re.compile(
    r"^\s*(?P<field>\w+)\s*(?P<op>=|<>|>=|<=|IN)\s*(?P<value>.+?)\s*$", re.IGNORECASE
)


def _split_and(where: str) -> list[str]:
    """Top-level AND clauses (string literals skipped), enclosing parentheses removed."""
    parts, depth, start, i = [], 0, 0, 0
    upper = where.upper()
    while i < len(where):
        char = where[i]
        if char == "'":
            i = where.index("'", i + 1) + 1
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif depth == 0 and upper.startswith(" AND ", i):
            parts.append(where[start:i])
            i += 5
            start = i
            continue
        i += 1
    parts.append(where[start:])
    out = []
    for part in (p.strip() for p in parts):
        if part.startswith("(") and part.endswith(")"):
            out.extend(_split_and(part[1:-1]))
        elif part:
            out.append(part)
    return out


def _literal(text: str) -> object:
    text = text.strip()
    if text.startswith("'") and text.endswith("'"):
        return text[1:-1].replace("''", "'")
    try:
        return float(text)
    except ValueError as exc:
        raise WhereError(f"cannot parse literal {text!r}") from exc


def where_mask(frame: pd.DataFrame, where: str) -> np.ndarray:
    mask = np.ones(len(frame), dtype=bool)
    for clause in _split_and(where or "1=1"):
        if re.fullmatch(r"1\s*=\s*1", clause):
            continue
        match = _CLAUSE.match(clause)
        if match is None or match["field"] not in frame.columns:
            raise WhereError(f"unsupported clause {clause!r}")
        column = frame[match["field"]]
        op = match["op"].upper()
        if op == "IN":
            values = [_literal(v) for v in match["value"].strip("() ").split(",")]
            mask &= column.isin(values).to_numpy()
            continue
        value = _literal(match["value"])
        if op == "=":
            mask &= (column == value).to_numpy()
        elif op == "<>":
            mask &= (column != value).to_numpy()
        elif op == ">=":
            mask &= (column >= value).to_numpy()
        else:
            mask &= (column <= value).to_numpy()
    return mask


def _plain(value: object) -> object:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def esri_geometry(geometry: shapely.Geometry) -> dict[str, Any] | None:
    """shapely -> ESRI JSON: rings with clockwise exteriors and counter-clockwise holes."""
    if geometry is None or geometry.is_empty:
        return None
    kind = geometry.geom_type
    if kind in ("Polygon", "MultiPolygon"):
        oriented = shapely.orient_polygons(geometry, exterior_cw=True)
        rings = []
        for polygon in shapely.get_parts(oriented):
            rings.append(shapely.get_coordinates(polygon.exterior).tolist())
            rings += [shapely.get_coordinates(r).tolist() for r in polygon.interiors]
        return {"rings": rings}
    if kind in ("LineString", "MultiLineString"):
        return {"paths": [shapely.get_coordinates(p).tolist() for p in shapely.get_parts(geometry)]}
    return {"x": geometry.x, "y": geometry.y}


@dataclass
class ArcgisEmulator:
    """An ArcGIS REST server: ``services`` maps ``<folder>/<Service>/MapServer`` to layers."""

    services: dict[str, dict[int, EmulatedLayer]]
    faults: list[Fault] = field(default_factory=list)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    port: int = 0

    def url(self, service: str, layer_id: int | None = None) -> str:
        base = f"http://127.0.0.1:{self.port}/arcgis/rest/services/{service}"
        return base if layer_id is None else f"{base}/{layer_id}"

    def pages(self, layer_id: int | None = None) -> list[int]:
        """resultOffsets of the page requests served so far (optionally of one layer)."""
        return [
            int(p["resultOffset"])
            for path, p in self.requests
            if path.endswith("/query")
            and "resultOffset" in p
            and (layer_id is None or path.endswith(f"/{layer_id}/query"))
        ]

    def _fault(self, kind: str, offset: int | None = None) -> Fault | None:
        for fault in self.faults:
            if fault.applies(kind, offset, None):
                fault.use()
                return fault
        return None

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        params = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        self.requests.append((parts.path, params))
        match = re.match(r"^/arcgis/rest/services/(.+)/(\d+)(/query)?/?$", parts.path)
        layers = self.services.get(match.group(1)) if match else None
        if match is None or layers is None or int(match.group(2)) not in layers:
            _send_json(handler, {"error": {"code": 400, "message": "Invalid URL"}})
            return
        layer_id = int(match.group(2))
        layer = layers[layer_id]
        if match.group(3) is None:
            if (fault := self._fault("metadata")) and self._misbehave(handler, fault):
                return
            _send_json(handler, layer.metadata(layer_id))
            return
        self._query(handler, layer, params)

    def _misbehave(self, handler: BaseHTTPRequestHandler, fault: Fault) -> bool:
        """Act out a transport-level fault; True when the response has been dealt with."""
        if fault.action == "stall":
            time.sleep(fault.seconds)
            return False  # answers late: the client has given up by then
        if fault.action == "delay":
            time.sleep(fault.seconds)
            return False
        if fault.action == "500":
            _send_json(handler, {"error": "boom"}, status=500)
            return True
        if fault.action == "429":
            _send_json(
                handler,
                {"error": "slow down"},
                status=429,
                headers={"Retry-After": f"{fault.seconds:g}"},
            )
            return True
        if fault.action == "arcgis_error":
            _send_json(handler, {"error": {"code": 503, "message": "Service busy", "details": []}})
            return True
        return False

    def _query(
        self, handler: BaseHTTPRequestHandler, layer: EmulatedLayer, params: dict[str, str]
    ) -> None:
        frame = layer.frame
        try:
            mask = where_mask(frame, params.get("where", "1=1"))
        except WhereError as exc:
            _send_json(handler, {"error": {"code": 400, "message": str(exc), "details": []}})
            return
        if params.get("geometry"):
            box = shapely.box(*(float(v) for v in params["geometry"].split(",")))
            hits = np.zeros(len(frame), dtype=bool)
            hits[frame.sindex.query(box, predicate="intersects")] = True
            mask &= hits
        selected = frame.loc[mask].sort_values(OID)
        if params.get("returnCountOnly") == "true":
            fault = self._fault("count")
            if fault and self._misbehave(handler, fault):
                return
            extra = 1 if fault and fault.action == "count_off" else 0
            _send_json(handler, {"count": len(selected) + extra})
            return
        if params.get("returnIdsOnly") == "true":
            if (fault := self._fault("ids")) and self._misbehave(handler, fault):
                return
            _send_json(handler, {"objectIdFieldName": OID, "objectIds": selected[OID].tolist()})
            return
        offset = int(params.get("resultOffset", 0))
        size = min(
            int(params.get("resultRecordCount") or layer.max_record_count), layer.max_record_count
        )
        fault = self._fault("page", offset)
        if fault and self._misbehave(handler, fault):
            return
        page = selected.iloc[offset : offset + size]
        more = offset + len(page) < len(selected)
        names = None
        if params.get("outFields", "*") != "*":
            names = [OID, *(n.strip() for n in params["outFields"].split(","))]
        fields = layer.fields(names)
        columns = [f["name"] for f in fields]
        if fault and fault.action == "schema":
            fields = [*fields, {"name": "NEW_FIELD", "type": "esriFieldTypeString"}]
        if params.get("f") == "geojson":
            body = json.loads(gpd.GeoDataFrame(page[[*columns, "geometry"]]).to_json())
            if more:
                body["properties"] = {"exceededTransferLimit": True}
            _send_json(handler, body)
            return
        features = [
            {
                "attributes": {c: _plain(v) for c, v in zip(columns, row[:-1], strict=True)},
                "geometry": esri_geometry(row[-1]),
            }
            for row in page[[*columns, "geometry"]].itertuples(index=False, name=None)
        ]
        body = {
            "objectIdFieldName": OID,
            "geometryType": layer.geometry_type,
            "spatialReference": {"wkid": 4326, "latestWkid": 4326},
            "fields": fields,
            "features": features,
        }
        if more:
            body["exceededTransferLimit"] = True
        _send_json(handler, body)


@dataclass
class FileEmulator:
    """Static files with ETag / Last-Modified / Range, plus any JSON routes."""

    files: dict[str, bytes] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    port: int = 0
    modified: float = 1_700_000_000.0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def etag(self, path: str) -> str:
        return '"' + hashlib.sha256(self.files[path]).hexdigest()[:20] + '"'

    def handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        path = urlsplit(handler.path).path
        headers = {k.lower(): v for k, v in handler.headers.items()}
        self.requests.append((method, path, headers))
        body = self.files.get(path)
        if body is None:
            handler.send_error(404, "Not Found")
            return
        etag = self.etag(path)
        common = {
            "ETag": etag,
            "Last-Modified": formatdate(self.modified, usegmt=True),
            "Accept-Ranges": "bytes",
        }
        start = 0
        wanted = re.match(r"bytes=(\d+)-$", headers.get("range", ""))
        if wanted and headers.get("if-range", etag) in (etag, common["Last-Modified"]):
            start = int(wanted.group(1))
        fault = next((f for f in self.faults if f.applies("file", None, path)), None)
        if fault is not None:
            fault.use()
        if fault is not None and fault.action == "truncate":
            body = body[: len(body) // 2]
        status = 206 if start else 200
        handler.send_response(status)
        for name, value in common.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body) - start))
        if start:
            handler.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        handler.end_headers()
        if method == "HEAD":
            return
        payload = body[start:]
        if fault is not None and fault.action == "cut":
            handler.wfile.write(payload[: int(fault.seconds)])
            handler.wfile.flush()
            handler.close_connection = True
            return
        handler.wfile.write(payload)


def _send_json(
    handler: BaseHTTPRequestHandler,
    body: object,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> None:
    payload = json.dumps(body).encode()
    try:
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(payload)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the client gave up (a stalled page): nothing to answer


@contextmanager
def running(emulator: ArcgisEmulator | FileEmulator) -> Iterator[ArcgisEmulator | FileEmulator]:
    """Serve ``emulator`` on 127.0.0.1 (a free port) for the duration of the block."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            if isinstance(emulator, ArcgisEmulator):
                emulator.handle(self)
            else:
                emulator.handle(self, "GET")

        def do_HEAD(self) -> None:
            if isinstance(emulator, FileEmulator):
                emulator.handle(self, "HEAD")

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    emulator.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield emulator
    finally:
        httpd.shutdown()
        httpd.server_close()
