"""OGC API - Tiles documents for the vector tiles; today's tile paths keep working."""

from __future__ import annotations

import mapbox_vector_tile
from fastapi.testclient import TestClient

TILESET = "/collections/deposits/tiles/WebMercatorQuad"


def test_tilesets_tileset_and_tile_matrix_set(client: TestClient) -> None:
    listed = client.get("/collections/deposits/tiles").json()["tilesets"]
    assert [t["tileMatrixSetURI"] for t in listed] == [
        "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"
    ]
    doc = client.get(TILESET).json()
    assert doc["dataType"] == "vector" and doc["crs"].endswith("/EPSG/0/3857")
    item = next(link for link in doc["links"] if link["rel"] == "item")
    assert item["templated"] and item["type"] == "application/vnd.mapbox-vector-tile"
    assert item["href"].endswith(f"{TILESET}/{{tileMatrix}}/{{tileCol}}/{{tileRow}}")
    z7 = next(lim for lim in doc["tileMatrixSetLimits"] if lim["tileMatrix"] == "7")
    assert z7["minTileCol"] <= 20 <= z7["maxTileCol"] and z7["minTileRow"] <= 48 <= z7["maxTileRow"]
    assert doc["layers"][0]["id"] == "deposits"
    scheme = next(link for link in doc["links"] if link["rel"].endswith("tiling-scheme"))
    tms = client.get(scheme["href"]).json()
    assert tms["id"] == "WebMercatorQuad" and len(tms["tileMatrices"]) == 25
    assert client.get("/tileMatrixSets").json()["tileMatrixSets"][0]["id"] == "WebMercatorQuad"
    assert client.get("/collections/deposits/tiles/NoSuchTMS").status_code == 404


def test_the_templated_link_and_todays_paths_serve_the_same_tile(client: TestClient) -> None:
    href = next(
        link["href"] for link in client.get(TILESET).json()["links"] if link["rel"] == "item"
    )
    path = href.split("testserver")[1].format(tileMatrix=7, tileCol=20, tileRow=48)
    templated, today = client.get(path), client.get(f"{TILESET}/7/20/48")
    assert templated.status_code == today.status_code == 200
    assert templated.content == today.content == client.get(f"{TILESET}/7/20/48.mvt").content
    layer = mapbox_vector_tile.decode(today.content)["deposits"]
    assert len(layer["features"]) > 100
    links = client.get("/collections/deposits").json()["links"]
    assert any(
        link["rel"].endswith("tilesets-vector") and link["href"].endswith("/tiles")
        for link in links
    )
    classes = client.get("/conformance").json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tileset" in classes
