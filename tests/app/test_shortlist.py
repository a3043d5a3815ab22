"""``/shortlist`` downloads on the real store, each opened again with GDAL (pyogrio).

One ranking (gold, explicit weights, top 15) is fetched as JSON from ``/rankings`` and
downloaded once per format; every file must hold the same cells in the same order with
the same scores, the deposits inside those cells, and its provenance.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import httpx
import pandas as pd
import pyogrio
import pytest
from fastapi.testclient import TestClient
from shapely.geometry import shape

from app.exports import KML_NS
from app.routers.shortlist import shortlist_filename
from geo.filters import DepositFilter
from layers.store import Store
from tests.app.test_rankings import SENT_QUERY

TOP = 15
QUERY = f"commodity=gold&top={TOP}&{SENT_QUERY}"
FORMATS = {
    "csv": ("text/csv", "csv"),
    "geojson": ("application/geo+json", "geojson"),
    "gpkg": ("application/geopackage+sqlite3", "gpkg"),
    "kml": ("application/vnd.google-earth.kml+xml", "kml"),
    "shp": ("application/zip", "zip"),
}
#: Text formats store doubles as decimal text with ~15 significant digits.
TOLERANCE = {"csv": 0.0, "geojson": 0.0, "gpkg": 0.0, "kml": 1e-12, "shp": 1e-12}


@pytest.fixture(scope="module")
def ranking(client: TestClient) -> dict[str, Any]:
    response = client.get(f"/rankings?{QUERY}")
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture(scope="module")
def downloads(client: TestClient, ranking: dict[str, Any]) -> dict[str, httpx.Response]:
    out = {}
    for fmt in FORMATS:
        response = client.get(f"/shortlist?{QUERY}&format={fmt}")
        assert response.status_code == 200, response.text
        out[fmt] = response
    return out


@pytest.fixture(scope="module")
def files(
    downloads: dict[str, httpx.Response], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("shortlists")
    paths = {}
    for fmt, response in downloads.items():
        paths[fmt] = root / f"shortlist.{FORMATS[fmt][1]}"
        paths[fmt].write_bytes(response.content)
    return paths


def layer_path(fmt: str, path: Path, layer: str) -> str:
    return f"/vsizip/{path}/{layer}.shp" if fmt == "shp" else str(path)


def read_layer(fmt: str, path: Path, layer: str) -> pd.DataFrame:
    if fmt in ("csv", "geojson"):
        frame = pyogrio.read_dataframe(path)
        if fmt == "geojson":
            kind = "cell" if layer == "cells" else "deposit"
            frame = frame.loc[frame["feature_type"] == kind].reset_index(drop=True)
        return frame
    name = None if fmt == "shp" else layer
    return pyogrio.read_dataframe(layer_path(fmt, path, layer), layer=name)


def expected_filename(real_store: Store, ext: str, label: str = "gold", top: int = TOP) -> str:
    short = real_store.build_id.rsplit("-", 1)[-1]
    return f"fedmin-shortlist-{label}-{short}-top{top}.{ext}"


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_download_headers(
    fmt: str, downloads: dict[str, httpx.Response], real_store: Store
) -> None:
    response = downloads[fmt]
    media_type, ext = FORMATS[fmt]
    assert response.headers["content-type"].split(";")[0] == media_type
    name = expected_filename(real_store, ext)
    assert response.headers["content-disposition"] == f'attachment; filename="{name}"'
    assert 'rel="describedby"' in response.headers["link"]


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_cells_equal_the_ranking(fmt: str, files: dict[str, Path], ranking: dict[str, Any]) -> None:
    cells = read_layer(fmt, files[fmt], "cells")
    expected = ranking["features"]
    assert len(cells) == len(expected) == TOP
    assert cells["cell_id"].tolist() == [f["id"] for f in expected]
    scores = [float(v) for v in cells["score"]]  # the CSV driver reads text
    want = [f["properties"]["score"] for f in expected]
    assert scores == pytest.approx(want, rel=TOLERANCE[fmt], abs=TOLERANCE[fmt])
    ranks = [int(v) for v in cells["rank"]]
    assert ranks == list(range(1, TOP + 1))
    for got, feature in zip(cells.geometry, expected, strict=True):
        assert got.symmetric_difference(shape(feature["geometry"])).area < 1e-12


@pytest.mark.parametrize("fmt", ["geojson", "gpkg", "kml", "shp"])
def test_deposits_lie_in_their_cells(
    fmt: str, files: dict[str, Path], ranking: dict[str, Any]
) -> None:
    deposits = read_layer(fmt, files[fmt], "deposits")
    polygons = {f["id"]: shape(f["geometry"]).buffer(1e-6) for f in ranking["features"]}
    counts = {f["id"]: f["properties"]["n_deposits"] for f in ranking["features"]}
    assert len(deposits) == sum(counts.values())
    assert deposits["cell_id"].value_counts().to_dict() == {k: v for k, v in counts.items() if v}
    assert deposits["deposit_id"].is_unique
    for cell_id, point in zip(deposits["cell_id"], deposits.geometry, strict=True):
        assert polygons[cell_id].contains(point)


def test_csv_lists_deposits_and_has_its_sidecar(
    client: TestClient,
    files: dict[str, Path],
    downloads: dict[str, httpx.Response],
    ranking: dict[str, Any],
    real_store: Store,
) -> None:
    cells = pd.read_csv(files["csv"])
    gpkg = pyogrio.read_dataframe(files["gpkg"], layer="deposits")
    listed = sorted(i for ids in cells["deposit_ids"].dropna() for i in ids.split(";"))
    assert listed == sorted(gpkg["deposit_id"])
    link = downloads["csv"].headers["link"]
    sidecar_url = link[link.index("<") + 1 : link.index(">")]
    sidecar = client.get(sidecar_url)
    assert sidecar.status_code == 200
    meta = sidecar.json()
    assert meta["params"] == ranking["params"]
    assert meta["ranked_at"] == ranking["ranked_at"]
    assert meta["build_id"] == real_store.build_id
    assert meta["sources"] == real_store.source_checksums
    assert meta["cells"] == TOP and meta["deposits"] == len(gpkg)


def test_gpkg_metadata_table(
    files: dict[str, Path], ranking: dict[str, Any], real_store: Store
) -> None:
    assert [n for n, _ in pyogrio.list_layers(files["gpkg"])] == ["cells", "deposits", "metadata"]
    meta = pyogrio.read_dataframe(files["gpkg"], layer="metadata", read_geometry=False)
    rows = dict(zip(meta["key"], meta["value"], strict=True))
    assert json.loads(rows["params"]) == ranking["params"]
    assert rows["build_id"] == real_store.build_id
    assert json.loads(rows["sources"]) == real_store.source_checksums
    assert rows["generated_at"] and rows["ranked_at"] == ranking["ranked_at"]


def test_shapefile_zip_manifest(
    files: dict[str, Path], ranking: dict[str, Any], real_store: Store
) -> None:
    with zipfile.ZipFile(files["shp"]) as zf:
        names = set(zf.namelist())
        manifest = json.loads(zf.read("manifest.json"))
    for layer in ("cells", "deposits"):
        assert {f"{layer}.{e}" for e in ("shp", "shx", "dbf", "prj", "cpg")} <= names
        fields = manifest["shapefile_fields"][layer]
        info = pyogrio.read_info(f"/vsizip/{files['shp']}/{layer}.shp")
        assert set(info["fields"]) == set(fields)
        assert all(len(short) <= 10 for short in fields)
        assert info["crs"] == "EPSG:4326"
    assert manifest["params"] == ranking["params"]
    assert manifest["sources"] == real_store.source_checksums
    cells = pyogrio.read_dataframe(f"/vsizip/{files['shp']}/cells.shp")
    want = [f["properties"]["underdevelopment"] for f in ranking["features"]]
    assert cells["underdev"].tolist() == pytest.approx(want, abs=1e-12)


def test_kml_document_carries_the_parameters(
    files: dict[str, Path], ranking: dict[str, Any], real_store: Store
) -> None:
    document = ElementTree.parse(files["kml"]).getroot().find(f"{{{KML_NS}}}Document")
    assert document is not None
    description = document.findtext(f"{{{KML_NS}}}description")
    assert real_store.build_id in description
    params = next(x for x in description.splitlines() if x.startswith("params: "))
    assert json.loads(params.removeprefix("params: ")) == ranking["params"]
    data = {
        d.get("name"): d.findtext(f"{{{KML_NS}}}value") for d in document.iter(f"{{{KML_NS}}}Data")
    }
    assert json.loads(data["sources"]) == real_store.source_checksums
    assert [n for n, _ in pyogrio.list_layers(files["kml"])] == ["cells", "deposits"]


def test_geojson_fedmin_member(files: dict[str, Path], ranking: dict[str, Any]) -> None:
    doc = json.loads(files["geojson"].read_bytes())
    assert doc["fedmin"]["params"] == ranking["params"]
    assert doc["fedmin"]["build_id"] == ranking["manifest"]["build_id"]
    assert doc["fedmin"]["sources"] == ranking["manifest"]["sources"]
    cells = [f for f in doc["features"] if f["properties"]["feature_type"] == "cell"]
    assert [f["properties"]["score"] for f in cells] == [
        f["properties"]["score"] for f in ranking["features"]
    ]


def test_unknown_format_is_400_listing_the_formats(client: TestClient) -> None:
    response = client.get(f"/shortlist?{QUERY}&format=xlsx")
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert "xlsx" in detail and all(f in detail for f in FORMATS)


@pytest.mark.parametrize(
    ("selection", "label"),
    [
        (DepositFilter(commodities="gold"), "gold"),
        (DepositFilter(commodities="gold,Silver"), "gold+silver"),
        (DepositFilter(commodities="critical"), "critical"),
        (DepositFilter(critical=True), "critical"),
        (DepositFilter(critical=True, critical_list="eo14241"), "critical_eo14241"),
        (
            DepositFilter(commodities="gold", critical=False, critical_list="usgs2022"),
            "gold_usgs2022",
        ),
        (DepositFilter(commodities="gold", critical_list="usgs2022"), "gold"),
        (DepositFilter(state="CA"), "all"),
    ],
)
def test_filename_names_the_selection(selection: DepositFilter, label: str) -> None:
    name = shortlist_filename(selection, "20260101T000000-abcdef12", 25, "gpkg")
    assert name == f"fedmin-shortlist-{label}-abcdef12-top25.gpkg"
