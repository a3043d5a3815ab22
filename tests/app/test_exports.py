"""Export encoders on a small hand-made shortlist: every format read back with GDAL.

The real-data checks (files equal to ``/rankings``) are in ``test_shortlist.py``; these
pin the format decisions themselves: layer names, metadata, field-name mapping, text
limits, list and mapping values.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import pyogrio
import pytest
import shapely

from app import exports
from app.exports import FORMATS, KML_NS, Shortlist

EXPLANATION = {
    "score": 0.61,
    "components": {"potential": 0.9, "underdevelopment": 0.2, "access": None, "land": 1.0},
    "weights_used": {"potential": 0.4375, "underdevelopment": 0.3125, "access": 0.0, "land": 0.25},
    "notes": ["access unknown: no infrastructure layer covers this cell"],
}


@pytest.fixture(scope="module")
def shortlist() -> Shortlist:
    cells = gpd.GeoDataFrame(
        {
            "rank": [1, 2],
            "cell_id": ["g5070-5000-1-1", "g5070-5000-1-2"],
            "score": [0.6123456789012345, 0.25],
            "potential": [0.9, 0.1],
            "underdevelopment": [0.2, 0.05],
            "access": [np.nan, 0.5],
            "land": [1.0, 0.3],
            "pareto": [True, False],
            "top_deposit_ids": [["mrds:1", "mrds:2"], []],
            "commodity_counts": [{"gold": 2}, {}],
            "explanation": [EXPLANATION, {"score": 0.25}],
            "deposit_ids": [["mrds:1", "mrds:2"], []],
        },
        geometry=[shapely.box(-122, 40, -121.9, 40.1), shapely.box(-121, 40, -120.9, 40.1)],
        crs=4326,
    )
    deposits = gpd.GeoDataFrame(
        {
            "deposit_id": ["mrds:1", "mrds:2"],
            "cell_id": ["g5070-5000-1-1", "g5070-5000-1-1"],
            "name": ["Blue Jacket", None],
            "commodities": [["gold", "silver"], ["gold"]],
            "critical": [False, True],
            "mineral_entry": ["open", "closed"],
            "details": ["é" * 300, "short"],  # 600 bytes of UTF-8: over dBase's 254
        },
        geometry=[shapely.Point(-121.95, 40.05), shapely.Point(-121.97, 40.02)],
        crs=4326,
    )
    metadata = {
        "generated_at": "2026-01-01T00:00:00+00:00",
        "build_id": "20260101T000000-abcdef12",
        "params": {"weights": {"potential": 0.35}, "filter": {"commodities": ["gold"]}},
        "sources": {"mrds": [{"path": "raw/mrds.zip", "sha256": "0" * 64}]},
    }
    return Shortlist(cells, deposits, metadata)


def _file(tmp_path: Path, data: bytes, name: str) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_formats_table() -> None:
    assert {f: (FORMATS[f].extension, FORMATS[f].media_type) for f in FORMATS} == {
        "csv": ("csv", "text/csv"),
        "geojson": ("geojson", "application/geo+json"),
        "gpkg": ("gpkg", "application/geopackage+sqlite3"),
        "kml": ("kml", "application/vnd.google-earth.kml+xml"),
        "shp": ("zip", "application/zip"),
    }


def test_gpkg_layers_and_metadata_table(shortlist: Shortlist, tmp_path: Path) -> None:
    path = _file(tmp_path, exports.to_gpkg(shortlist), "s.gpkg")
    layers = {name: kind for name, kind in pyogrio.list_layers(path)}
    assert layers == {"cells": "Polygon", "deposits": "Point", "metadata": None}
    cells = pyogrio.read_dataframe(path, layer="cells")
    assert cells["cell_id"].tolist() == shortlist.cells["cell_id"].tolist()
    assert cells["score"].tolist() == shortlist.cells["score"].tolist()
    assert cells["pareto"].tolist() == [True, False]
    assert np.isnan(cells["access"][0])
    assert cells["top_deposit_ids"].tolist() == ["mrds:1;mrds:2", ""]
    assert json.loads(cells["explanation"][0]) == EXPLANATION
    assert cells.crs.to_epsg() == 4326
    deposits = pyogrio.read_dataframe(path, layer="deposits")
    assert deposits["deposit_id"].tolist() == ["mrds:1", "mrds:2"]
    assert deposits["commodities"].tolist() == ["gold;silver", "gold"]
    meta = pyogrio.read_dataframe(path, layer="metadata", read_geometry=False)
    rows = dict(zip(meta["key"], meta["value"], strict=True))
    assert rows["build_id"] == shortlist.metadata["build_id"]
    assert rows["generated_at"] == shortlist.metadata["generated_at"]
    assert json.loads(rows["params"]) == shortlist.metadata["params"]
    assert json.loads(rows["sources"]) == shortlist.metadata["sources"]


def test_shapefile_zip(shortlist: Shortlist, tmp_path: Path) -> None:
    path = _file(tmp_path, exports.to_shapefile_zip(shortlist), "s.zip")
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        manifest = json.loads(zf.read("manifest.json"))
    for layer in ("cells", "deposits"):
        assert {f"{layer}.{ext}" for ext in ("shp", "shx", "dbf", "prj", "cpg")} <= names
    assert manifest["build_id"] == shortlist.metadata["build_id"]
    assert manifest["params"] == shortlist.metadata["params"]
    fields = manifest["shapefile_fields"]
    assert fields["cells"]["underdev"] == "underdevelopment"
    assert fields["cells"]["explain"] == "explanation"
    cells = pyogrio.read_dataframe(f"/vsizip/{path}/cells.shp")
    assert all(len(c) <= 10 for c in cells.columns)
    assert set(cells.columns) - {"geometry"} == set(fields["cells"])
    assert cells["cell_id"].tolist() == shortlist.cells["cell_id"].tolist()
    assert cells["score"].tolist() == pytest.approx(shortlist.cells["score"].tolist(), abs=1e-12)
    assert cells["underdev"].tolist() == [0.2, 0.05]
    assert cells["pareto"].tolist() == [True, False]
    # The explanation is text a person can read, not JSON cut mid-way.
    assert cells["explain"][0].startswith("score 0.61 = potential 0.9 (w 0.438)")
    assert "access unknown (w 0)" in cells["explain"][0]
    deposits = pyogrio.read_dataframe(f"/vsizip/{path}/deposits.shp")
    details = deposits["details"][0]
    assert len(details.encode()) <= exports.DBF_TEXT_BYTES
    assert details.endswith("…") and set(details[:-1]) == {"é"}
    assert deposits["details"][1] == "short"
    assert deposits["commoditys"].tolist() == ["gold;silver", "gold"]


def test_shapefile_names_are_short_unique_and_explicit() -> None:
    columns = ["underdevelopment", "dist_road_m", "abcdefghijkl", "abcdefghijXY", "score"]
    names = exports.shapefile_names(columns)
    assert names["underdevelopment"] == "underdev"
    assert names["dist_road_m"] == "dist_road"
    assert names["score"] == "score"
    assert names["abcdefghijkl"] == "abcdefghij"
    assert names["abcdefghijXY"] == "abcdefghi1"
    assert all(len(v) <= 10 for v in names.values())
    assert all(len(v) <= 10 for v in exports.SHAPEFILE_FIELDS.values())
    assert len(set(exports.SHAPEFILE_FIELDS.values())) == len(exports.SHAPEFILE_FIELDS)


def test_kml_folders_and_document_provenance(shortlist: Shortlist, tmp_path: Path) -> None:
    data = exports.to_kml(shortlist)
    path = _file(tmp_path, data, "s.kml")
    assert [name for name, _ in pyogrio.list_layers(path)] == ["cells", "deposits"]
    cells = pyogrio.read_dataframe(path, layer="cells")
    assert cells["cell_id"].tolist() == shortlist.cells["cell_id"].tolist()
    assert cells["score"].tolist() == pytest.approx(shortlist.cells["score"].tolist(), abs=1e-12)
    assert cells["Name"].tolist() == ["#1 g5070-5000-1-1", "#2 g5070-5000-1-2"]
    assert cells["description"][0].startswith("score 0.61")
    deposits = pyogrio.read_dataframe(path, layer="deposits")
    assert deposits["deposit_id"].tolist() == ["mrds:1", "mrds:2"]
    assert deposits["Name"].tolist() == ["Blue Jacket", "mrds:2"]  # unnamed: its id
    document = ElementTree.fromstring(data).find(f"{{{KML_NS}}}Document")
    assert document is not None
    description = document.findtext(f"{{{KML_NS}}}description")
    assert shortlist.metadata["build_id"] in description
    params_line = next(x for x in description.splitlines() if x.startswith("params: "))
    assert json.loads(params_line.removeprefix("params: ")) == shortlist.metadata["params"]
    data_items = {
        d.get("name"): d.findtext(f"{{{KML_NS}}}value") for d in document.iter(f"{{{KML_NS}}}Data")
    }
    assert data_items["build_id"] == shortlist.metadata["build_id"]
    assert json.loads(data_items["sources"]) == shortlist.metadata["sources"]


def test_geojson_cells_deposits_and_fedmin_member(shortlist: Shortlist, tmp_path: Path) -> None:
    data = exports.to_geojson(shortlist)
    doc = orjson.loads(data)
    assert doc["fedmin"] == shortlist.metadata
    kinds = [f["properties"]["feature_type"] for f in doc["features"]]
    assert kinds == ["cell", "cell", "deposit", "deposit"]
    first = doc["features"][0]["properties"]
    assert first["access"] is None  # NaN is null, never NaN
    assert first["top_deposit_ids"] == ["mrds:1", "mrds:2"]  # arrays stay arrays
    assert first["explanation"] == EXPLANATION
    read = pyogrio.read_dataframe(_file(tmp_path, data, "s.geojson"))
    assert len(read) == 4
    assert read["score"].tolist()[:2] == shortlist.cells["score"].tolist()


def test_csv_is_plain_and_gdal_reads_the_wkt(shortlist: Shortlist, tmp_path: Path) -> None:
    data = exports.to_csv(shortlist)
    assert not data.startswith(b"#")
    table = pd.read_csv(_file(tmp_path, data, "s.csv"))
    assert table.columns[-1] == "WKT"
    assert table["lon"].tolist() == pytest.approx([-121.95, -120.95])
    assert table["deposit_ids"].fillna("").tolist() == ["mrds:1;mrds:2", ""]
    read = pyogrio.read_dataframe(tmp_path / "s.csv")
    assert read["cell_id"].tolist() == shortlist.cells["cell_id"].tolist()
    assert [float(v) for v in read["score"]] == shortlist.cells["score"].tolist()
    assert shapely.equals_exact(read.geometry.values, shortlist.cells.geometry.values, 1e-12).all()


def test_metadata_rows_are_text() -> None:
    rows = dict(exports.metadata_rows({"a": "x", "b": {"k": [1, 2]}, "c": None, "d": 1.5}))
    assert rows == {"a": "x", "b": '{"k":[1,2]}', "c": "null", "d": "1.5"}


def test_nulls_stay_null_and_one_geometry_type_per_layer(tmp_path: Path) -> None:
    """A list of unknown names is a null (it was the text 'None'); a layer mixing
    Polygon and MultiPolygon is written as MultiPolygon, which GDAL opens without a
    warning (a shapefile's polygon type holds both)."""
    cells = gpd.GeoDataFrame(
        {"cell_id": ["a", "b"], "rank": [1, 2]},
        geometry=[
            shapely.box(-122, 40, -121.9, 40.1),
            shapely.MultiPolygon(
                [shapely.box(179.9, 50, 180, 50.1), shapely.box(-180, 50, -179.9, 50.1)]
            ),
        ],
        crs=4326,
    )
    deposits = gpd.GeoDataFrame(
        {
            "deposit_id": ["mrds:1", "mrds:2", "mrds:3"],
            "land_unit_ids": [["u1"], ["u2", "u3"], []],
            "land_unit_names": [[None], [None, "Inyo National Forest"], []],
            "county": [None, "Inyo", None],
        },
        geometry=[shapely.Point(-118, 37), shapely.Point(-118.1, 37.1), shapely.Point(-118.2, 37)],
        crs=4326,
    )
    data = Shortlist(cells, deposits, {"build_id": "synthetic test fixture"})
    path = _file(tmp_path, exports.to_gpkg(data), "s.gpkg")
    assert dict(pyogrio.list_layers(path))["cells"] == "MultiPolygon"
    read = pyogrio.read_dataframe(path, layer="deposits")
    names = [None if pd.isna(v) else v for v in read["land_unit_names"]]
    assert names == [None, ";Inyo National Forest", ""]
    assert [None if pd.isna(v) else v for v in read["county"]] == [None, "Inyo", None]
    assert not (read.drop(columns="geometry").astype(str) == "None").to_numpy().any()
    with zipfile.ZipFile(_file(tmp_path, exports.to_shapefile_zip(data), "s.zip")) as zf:
        zf.extractall(tmp_path / "shp")
    shp = pyogrio.read_dataframe(tmp_path / "shp" / "cells.shp")  # (its polygons are multi)
    assert shp.geometry.geom_type.tolist() == ["Polygon", "MultiPolygon"]
