"""Shortlist export encoders: (cells, deposits, provenance) -> the bytes of one file.

Pure functions with no HTTP in them, so the CLI or a notebook can write the same files.
Every file carries the parameters and data versions it came from; how depends on what
the format can hold:

* ``gpkg``: layers ``cells`` (polygons) and ``deposits`` (points) plus ``metadata``, an
  attribute table of ``key``/``value`` rows (params JSON, build id, source checksums,
  validation, generated_at).
* ``shp``: a zip of ``cells.shp`` and ``deposits.shp`` (each with .shx/.dbf/.prj and a
  UTF-8 .cpg) and ``manifest.json`` (the provenance plus, per layer, the map from the
  10-character dBase field names back to the full column names, see
  ``SHAPEFILE_FIELDS``). Text longer than dBase's 254 bytes is cut and ends with "…".
* ``kml``: one document with folders ``cells`` and ``deposits`` of Placemarks whose
  attributes are ExtendedData; the document's description states the parameters and its
  ExtendedData holds every provenance key (the same rows as the GeoPackage table).
* ``geojson``: one FeatureCollection, cells first then deposits, told apart by the
  ``feature_type`` property ("cell" or "deposit"); the provenance is the top-level
  ``fedmin`` member.
* ``csv``: one row per cell (deposits are listed by id in ``deposit_ids``), the centroid
  as ``lon``/``lat`` and the polygon as ``WKT`` (GDAL and QGIS read it as the geometry).
  The file is a plain RFC 4180 CSV that GDAL, QGIS, spreadsheets and pandas read as is,
  so it holds no comment lines: its provenance is the JSON sidecar that the API serves
  beside it (``/shortlist/manifest`` with the same query).

List values (e.g. deposit ids, commodities) are joined with ``;`` in every format but
GeoJSON, which keeps them as arrays; mappings become JSON text.
"""

from __future__ import annotations

import tempfile
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import pyogrio
import shapely

LIST_SEPARATOR = ";"
KML_NS = "http://www.opengis.net/kml/2.2"
DBF_TEXT_BYTES = 254

#: dBase allows 10-character field names. Long names are mapped explicitly so that the
#: short names are stable and readable; a column not listed here is cut to 10 characters
#: (with a numeric suffix on a clash). ``manifest.json`` in the zip records the map.
SHAPEFILE_FIELDS: dict[str, str] = {
    # cells
    "underdevelopment": "underdev",
    "cell_area_m2": "cell_ar_m2",
    "n_past_producer": "n_past_prd",
    "n_occurrence": "n_occur",
    "evidence_sum": "evid_sum",
    "potential_raw": "pot_raw",
    "undeveloped_raw": "undev_raw",
    "development_raw": "dev_raw",
    "worked_density": "wrk_dens",
    "neutral_raw": "neutr_raw",
    "unknown_status_raw": "unkn_raw",
    "n_unknown_status": "n_unknown",
    "n_compilation": "n_compil",
    "claims_covered": "claims_cov",
    "active_claims": "act_claims",
    "top_deposit_ids": "top_dep_id",
    "top_deposit_contributions": "top_dep_ct",
    "commodity_counts": "comm_count",
    "explanation": "explain",
    "deposit_ids": "dep_ids",
    # deposits
    "primary_commodity": "prim_comm",
    "commodities": "commoditys",
    "land_unit_ids": "land_ids",
    "land_unit_names": "land_names",
    "critical_lists": "crit_lists",
    "mineral_entry": "min_entry",
    "designation": "designatn",
    # both
    "dist_road_m": "dist_road",
    "dist_rail_m": "dist_rail",
    "dist_power_m": "dist_power",
    "feature_type": "feat_type",
    # land status and place names (cells; the reason also on deposits)
    "land_closed_share": "land_closd",
    "land_restricted_share": "land_restr",
    "land_unknown_share": "land_unkn",
    "land_claimed_share": "land_claim",
    "land_open_share": "land_open",
    "land_unit_share": "unit_share",
    "land_non_federal_share": "land_nonfd",
    "nearest_place": "near_place",
    "nearest_place_km": "near_km",
    "nearest_place_bearing": "near_dir",
    "place_label": "place",
    "best_deposit_id": "best_dep",
    "best_deposit_name": "best_name",
    "mineral_entry_reason": "entry_why",
}


@dataclass(frozen=True)
class Shortlist:
    """What a shortlist file holds.

    ``cells``: EPSG:4326 polygons in rank order with a ``cell_id`` column; ``deposits``:
    EPSG:4326 points with ``deposit_id`` and the ``cell_id`` they belong to;
    ``metadata``: JSON-ready provenance (parameters, build id, source checksums, ...).
    """

    cells: gpd.GeoDataFrame
    deposits: gpd.GeoDataFrame
    metadata: Mapping[str, Any]


@dataclass(frozen=True)
class ExportFormat:
    name: str
    extension: str
    media_type: str
    encode: Callable[[Shortlist], bytes]
    summary: str


# --- shared helpers ---------------------------------------------------------------------


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, set | frozenset | tuple):
        return sorted(value) if isinstance(value, set | frozenset) else list(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON-serializable: {type(value).__name__}")


def dumps(value: Any, *, indent: bool = False) -> bytes:
    """orjson with numpy values and NaN -> null; sorted keys so files are reproducible."""
    option = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS
    if indent:
        option |= orjson.OPT_INDENT_2
    return orjson.dumps(value, default=_json_default, option=option)


def metadata_rows(metadata: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Provenance as (key, text) rows: strings as they are, anything else as JSON."""
    return [
        (key, value if isinstance(value, str) else dumps(value).decode())
        for key, value in metadata.items()
    ]


def _is_null(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and value != value)


def _is_listlike(value: Any) -> bool:
    return isinstance(value, list | tuple | np.ndarray | set | frozenset)


def _to_text(value: Any) -> Any:
    """A list as ``a;b`` (an unknown item as an empty one, so positions still line up
    with a parallel list; only unknown items: null, never the text ``None``), a
    mapping as JSON, else as is."""
    if _is_listlike(value) and any(isinstance(v, Mapping) for v in value):
        return dumps(list(value)).decode()  # e.g. a cell's land units: JSON, not reprs
    if _is_listlike(value):
        items = ["" if _is_null(v) else str(v) for v in value]
        return LIST_SEPARATOR.join(items) if not items or any(items) else None
    if isinstance(value, Mapping):
        return dumps(value).decode()
    return value


def flatten(frame: pd.DataFrame) -> pd.DataFrame:
    """Copy with list cells joined by ``;`` and mapping cells as JSON text.

    Tabular formats have no array or object type; only object columns are touched.
    """
    out = frame.copy()
    geometry = out.geometry.name if isinstance(out, gpd.GeoDataFrame) else None
    for column in out.columns:
        if column != geometry and out[column].dtype == object:
            out[column] = out[column].map(_to_text)
    return out


def _lonlat(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return frame if frame.crs is not None and frame.crs.to_epsg() == 4326 else frame.to_crs(4326)


def mixed_single_and_multi(frame: pd.DataFrame) -> bool:
    """Whether a layer mixes e.g. Polygon and MultiPolygon (GDAL warns about such a
    layer: it is written promoted to Multi*, one geometry type per layer)."""
    if not isinstance(frame, gpd.GeoDataFrame) or frame.empty:
        return False
    types = set(frame.geometry.geom_type.dropna())
    return any(t in types and f"Multi{t}" in types for t in ("Point", "LineString", "Polygon"))


def _write_layers(
    path: Path, layers: Iterable[tuple[str, pd.DataFrame]], driver: str, **options: Any
) -> None:
    """Write frames as named layers of one dataset (GDAL creates it on the first)."""
    for i, (layer, frame) in enumerate(layers):
        pyogrio.write_dataframe(
            frame,
            path,
            layer=layer,
            driver=driver,
            append=i > 0,
            promote_to_multi=True if mixed_single_and_multi(frame) else None,
            **options,
        )


def _encode_in_tempdir(write: Callable[[Path], Path]) -> bytes:
    """Let ``write`` produce a file in a fresh temporary directory and return its bytes."""
    with tempfile.TemporaryDirectory(prefix="fedmin-export-") as tmp:
        return write(Path(tmp)).read_bytes()


# --- GeoPackage -------------------------------------------------------------------------


def to_gpkg(shortlist: Shortlist) -> bytes:
    """Layers ``cells`` and ``deposits`` plus the ``metadata`` key/value attribute table."""
    metadata = pd.DataFrame(metadata_rows(shortlist.metadata), columns=["key", "value"])

    def write(tmp: Path) -> Path:
        path = tmp / "shortlist.gpkg"
        _write_layers(
            path,
            [
                ("cells", flatten(_lonlat(shortlist.cells))),
                ("deposits", flatten(_lonlat(shortlist.deposits))),
                ("metadata", metadata),
            ],
            "GPKG",
        )
        return path

    return _encode_in_tempdir(write)


# --- zipped Shapefile -------------------------------------------------------------------


def shapefile_names(columns: Iterable[str]) -> dict[str, str]:
    """Full column name -> unique dBase field name of at most 10 characters."""
    out: dict[str, str] = {}
    used: set[str] = set()
    for column in columns:
        short = SHAPEFILE_FIELDS.get(column, column)[:10]
        candidate, n = short, 1
        while candidate.lower() in used:
            suffix = str(n)
            candidate = short[: 10 - len(suffix)] + suffix
            n += 1
        used.add(candidate.lower())
        out[column] = candidate
    return out


def explanation_text(value: Any) -> Any:
    """A cell's explanation as one line of text (for a Placemark balloon or a dBase field):
    score, each component with the weight it had, then the notes."""
    if not isinstance(value, Mapping) or not isinstance(value.get("components"), Mapping):
        return _to_text(value)
    weights = value.get("weights_used") or {}

    def fmt(x: Any) -> str:
        return "unknown" if x is None else f"{x:.3g}"

    parts = [
        f"{name} {fmt(v)} (w {fmt(weights.get(name))})" for name, v in value["components"].items()
    ]
    text = f"score {fmt(value.get('score'))} = " + ", ".join(parts)
    notes = value.get("notes") or []
    return text + ("; " + "; ".join(map(str, notes)) if notes else "")


def _fit_dbf_text(value: Any) -> Any:
    """Cut text to dBase's 254 bytes on a character boundary, marking the cut with '…'."""
    if not isinstance(value, str) or len(value.encode()) <= DBF_TEXT_BYTES:
        return value
    cut = value.encode()[: DBF_TEXT_BYTES - len("…".encode())].decode(errors="ignore")
    return cut + "…"


def _for_shapefile(frame: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, dict[str, str]]:
    frame = _lonlat(frame)
    if "explanation" in frame:  # JSON cut at 254 bytes would be unreadable; text is not
        frame = frame.assign(explanation=frame["explanation"].map(explanation_text))
    flat = flatten(frame)
    attributes = [c for c in flat.columns if c != flat.geometry.name]
    names = shapefile_names(attributes)
    for column in attributes:
        if flat[column].dtype == object or pd.api.types.is_string_dtype(flat[column]):
            flat[column] = flat[column].map(_fit_dbf_text)
    return flat.rename(columns=names), {short: full for full, short in names.items()}


def to_shapefile_zip(shortlist: Shortlist) -> bytes:
    """``cells.shp`` + ``deposits.shp`` (with sidecars) + ``manifest.json`` in one zip."""

    def write(tmp: Path) -> Path:
        fields: dict[str, dict[str, str]] = {}
        for layer, frame in (("cells", shortlist.cells), ("deposits", shortlist.deposits)):
            renamed, fields[layer] = _for_shapefile(frame)
            pyogrio.write_dataframe(
                renamed,
                tmp / f"{layer}.shp",
                encoding="UTF-8",
                promote_to_multi=True if mixed_single_and_multi(renamed) else None,
            )
        manifest = {**shortlist.metadata, "shapefile_fields": fields}
        (tmp / "manifest.json").write_bytes(dumps(manifest, indent=True))
        archive = tmp / "shortlist.zip"
        members = sorted(p for p in tmp.iterdir() if p != archive)
        with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for member in members:
                zf.write(member, arcname=member.name)
        return archive

    return _encode_in_tempdir(write)


# --- KML --------------------------------------------------------------------------------


def _for_kml(
    frame: gpd.GeoDataFrame, name: pd.Series, description: pd.Series | None
) -> gpd.GeoDataFrame:
    """LIBKML conventions: ``Name``/``description`` become the Placemark's own elements;
    Integer64 has no KML type, so integer columns go out as 32-bit."""
    flat = flatten(_lonlat(frame))
    for column in flat.columns:
        if pd.api.types.is_integer_dtype(flat[column]):
            flat[column] = flat[column].astype("int32")
    flat.insert(0, "Name", name.to_numpy())
    if description is not None:
        flat.insert(1, "description", description.to_numpy())
    return flat


def _kml_document_header(
    kml: bytes, title: str, summary: str, metadata: Mapping[str, Any]
) -> bytes:
    """Give the root Document a name, a description and the provenance as ExtendedData
    (the LIBKML driver writes none of them).

    Spliced in after the Document's start tag rather than re-serializing the whole tree,
    which would cost seconds on a large shortlist. The elements are unprefixed, so they
    take the KML default namespace of the root ``<kml>`` element.
    """
    start = kml.find(b"<Document")
    if start < 0:  # pragma: no cover - LIBKML always writes one
        raise ValueError("KML without a Document")
    end = kml.index(b">", start) + 1
    name = ElementTree.Element("name")
    name.text = title
    description = ElementTree.Element("description")
    description.text = summary
    extended = ElementTree.Element("ExtendedData")
    for key, value in metadata_rows(metadata):
        data = ElementTree.SubElement(extended, "Data", name=key)
        ElementTree.SubElement(data, "value").text = value
    header = b"".join(
        ElementTree.tostring(e, encoding="utf-8") for e in (name, description, extended)
    )
    return kml[:end] + header + kml[end:]


def kml_summary(metadata: Mapping[str, Any]) -> str:
    """Human-readable first lines of the KML description, then the parameters as JSON."""
    lines = ["fedmin shortlist: cells ranked by high mineral potential and low development."]
    for key in ("build_id", "generated_at"):
        if key in metadata:
            lines.append(f"{key}: {metadata[key]}")
    if "critical_list" in metadata:
        listed = metadata["critical_list"]
        lines.append(f"critical minerals: {listed['id']} ({listed['title']})")
    if "params" in metadata:
        lines.append("params: " + dumps(metadata["params"]).decode())
    return "\n".join(lines)


def to_kml(shortlist: Shortlist) -> bytes:
    """Folders ``cells`` and ``deposits``; cell Placemarks are named '#rank cell_id' and
    described by their explanation, deposit Placemarks by the deposit name."""
    cells, deposits = shortlist.cells, shortlist.deposits
    cell_names = (
        "#" + cells["rank"].astype(str) + " " + cells["cell_id"].astype(str)
        if "rank" in cells
        else cells["cell_id"].astype(str)
    )
    explanation = cells["explanation"].map(explanation_text) if "explanation" in cells else None
    deposit_names = (
        deposits["name"].fillna(deposits["deposit_id"]).astype(str)
        if "name" in deposits
        else deposits["deposit_id"].astype(str)
    )

    def write(tmp: Path) -> Path:
        path = tmp / "shortlist.kml"
        _write_layers(
            path,
            [
                ("cells", _for_kml(cells, cell_names, explanation)),
                ("deposits", _for_kml(deposits, deposit_names, None)),
            ],
            "LIBKML",
            layer_options={"FOLDER": "YES"},
        )
        return path

    raw = _encode_in_tempdir(write)
    return _kml_document_header(
        raw, "fedmin shortlist", kml_summary(shortlist.metadata), shortlist.metadata
    )


# --- GeoJSON ----------------------------------------------------------------------------


def _json_value(value: Any) -> Any:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return None
    if isinstance(value, np.ndarray):
        return [_json_value(v) for v in value.tolist()]
    if isinstance(value, np.floating) and not np.isfinite(value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def geojson_features(
    frame: gpd.GeoDataFrame,
    extra: Mapping[str, Any] | None = None,
    id_column: str | None = None,
) -> list[dict[str, Any]]:
    """GeoJSON Feature dicts of a frame (lon/lat; NaN -> null, arrays -> lists).

    ``extra`` properties come first; ``id_column`` also becomes each Feature's ``id``.
    """
    frame = _lonlat(frame)
    geometry = frame.geometry.name
    columns = [c for c in frame.columns if c != geometry]
    # GEOS writes all geometries in one call; orjson embeds the text as is.
    geoms = shapely.to_geojson(frame.geometry.to_numpy()).tolist()
    records = pd.DataFrame(frame[columns]).to_dict(orient="records")
    out = []
    for record, geom in zip(records, geoms, strict=True):
        properties = {**(extra or {}), **{k: _json_value(v) for k, v in record.items()}}
        feature: dict[str, Any] = {"type": "Feature"}
        if id_column is not None:
            feature["id"] = properties[id_column]
        geometry_json = None if geom is None else orjson.Fragment(geom)
        feature |= {"geometry": geometry_json, "properties": properties}
        out.append(feature)
    return out


def to_geojson(shortlist: Shortlist) -> bytes:
    """Cells then deposits in one FeatureCollection (``feature_type`` tells them apart);
    provenance in the top-level ``fedmin`` member."""
    features = geojson_features(shortlist.cells, {"feature_type": "cell"})
    features += geojson_features(shortlist.deposits, {"feature_type": "deposit"})
    return dumps({"type": "FeatureCollection", "fedmin": shortlist.metadata, "features": features})


# --- CSV --------------------------------------------------------------------------------


def to_csv(shortlist: Shortlist) -> bytes:
    """One row per cell, the polygon as ``WKT`` (last column); ``lon``/``lat`` are added
    (centroid) when the cells lack them."""
    cells = _lonlat(shortlist.cells)
    table = flatten(pd.DataFrame(cells.drop(columns=cells.geometry.name)))
    if "lon" not in table or "lat" not in table:
        centroids = shapely.centroid(cells.geometry.to_numpy())
        table["lon"], table["lat"] = shapely.get_x(centroids), shapely.get_y(centroids)
    table["WKT"] = shapely.to_wkt(cells.geometry.to_numpy(), rounding_precision=-1)
    return table.to_csv(index=False, lineterminator="\r\n").encode()


FORMATS: dict[str, ExportFormat] = {
    f.name: f
    for f in (
        ExportFormat(
            "csv",
            "csv",
            "text/csv",
            to_csv,
            "cells with lon/lat, deposit_ids and WKT; provenance in the sidecar",
        ),
        ExportFormat(
            "geojson",
            "geojson",
            "application/geo+json",
            to_geojson,
            "one FeatureCollection of cells and deposits, provenance in 'fedmin'",
        ),
        ExportFormat(
            "gpkg",
            "gpkg",
            "application/geopackage+sqlite3",
            to_gpkg,
            "layers cells, deposits and a metadata table",
        ),
        ExportFormat(
            "kml",
            "kml",
            "application/vnd.google-earth.kml+xml",
            to_kml,
            "folders cells and deposits, provenance in the document",
        ),
        ExportFormat(
            "shp",
            "zip",
            "application/zip",
            to_shapefile_zip,
            "zip of cells.shp, deposits.shp and manifest.json",
        ),
    )
}
