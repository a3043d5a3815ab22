"""OGC API - Features through the real HTTP stack on the real store.

Expected values are computed independently with geopandas from the store's frames, never
through the API's own filter code.
"""

from __future__ import annotations

import mapbox_vector_tile
import morecantile
import pytest
from fastapi.testclient import TestClient

from app.collections import default_rank_params
from app.settings import Settings
from layers.schema import LayerKind
from layers.store import Store, deposit_sites

NORCAL = (-123.6, 40.5, -122.4, 41.6)
BBOX = ",".join(map(str, NORCAL))
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
BLACK_BEAR = "mrds:10034372"


def _chromium_in_norcal(store: Store) -> set[str]:
    deposits = deposit_sites(store)
    minx, miny, maxx, maxy = NORCAL
    inside = deposits.cx[minx:maxx, miny:maxy]
    has_chromium = inside["commodities"].map(lambda names: "chromium" in list(names))
    return set(inside.loc[has_chromium, "id"])


def _link(doc: dict, rel: str) -> str | None:
    return next((x["href"] for x in doc["links"] if x["rel"] == rel), None)


def test_landing_page_links(client: TestClient) -> None:
    doc = client.get("/").json()
    rels = {x["rel"] for x in doc["links"]}
    assert {"self", "service-desc", "service-doc", "conformance", "data"} <= rels
    hrefs = {x["href"].removeprefix("http://testserver") for x in doc["links"]}
    assert {"/openapi.json", "/docs", "/conformance", "/collections", "/map"} <= hrefs


def test_conformance(client: TestClient) -> None:
    classes = client.get("/conformance").json()["conformsTo"]
    for name in ("core", "geojson", "oas30", "html"):
        assert f"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/{name}" in classes


def test_html_by_f_and_by_accept(client: TestClient) -> None:
    browser = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    assert client.get("/", headers=browser).headers["content-type"].startswith("text/html")
    assert client.get("/").headers["content-type"].startswith("application/json")
    page = client.get("/collections", params={"f": "html"})
    assert page.headers["content-type"].startswith("text/html")
    assert "deposits" in page.text
    items = client.get(f"/collections/deposits/items/{BLACK_BEAR}", params={"f": "html"})
    assert "Black Bear" in items.text and "<table>" in items.text


def test_collections_metadata_and_provenance(client: TestClient, real_store: Store) -> None:
    docs = {c["id"]: c for c in client.get("/collections").json()["collections"]}
    assert set(docs) == {
        "deposits",
        "federal_lands",
        "land_coverage",
        "claims",
        "roads",
        "railroads",
        "transmission_lines",
        "states",
        "counties",
        "deposit_coverage",
        "populated_places",
        "rivers",
        "lakes",
        "data_coverage",
        "ranked_cells",
        "deposit_records",
    }
    deposits = docs["deposits"]
    assert deposits["itemType"] == "feature" and deposits["crs"] == [CRS84]
    layers = real_store.manifest["layers"]
    boxes = [layers[i]["bounds"] for i in real_store.layer_ids(LayerKind.DEPOSITS)]
    expected = [min(b[0] for b in boxes), min(b[1] for b in boxes)]
    expected += [max(b[2] for b in boxes), max(b[3] for b in boxes)]
    assert deposits["extent"]["spatial"]["bbox"] == [expected]
    assert "MRDS has not been systematically updated" in deposits["description"]
    publishers = {p["publisher"] for p in deposits["fedmin:provenance"]}
    assert "U.S. Geological Survey" in publishers
    assert deposits["fedmin:numberOfFeatures"] == len(deposit_sites(real_store))
    # The ranking is computed on first use: listing collections must not trigger it.
    assert docs["ranked_cells"]["fedmin:computed"] is False
    one = client.get("/collections/federal_lands").json()
    assert one["fedmin:filters"] == ["agency", "mineral_entry"]


def test_chromium_in_northern_california_matches_geopandas(
    client: TestClient, real_store: Store
) -> None:
    expected = _chromium_in_norcal(real_store)
    assert len(expected) > 20  # the Klamath ultramafics hold many chromite prospects
    seen: list[str] = []
    url: str | None = f"/collections/deposits/items?bbox={BBOX}&commodity=chromium&limit=25"
    pages = 0
    while url:
        response = client.get(url)
        assert response.headers["content-type"] == "application/geo+json"
        doc = response.json()
        assert doc["numberMatched"] == len(expected)
        assert doc["numberReturned"] == len(doc["features"]) <= 25
        assert doc["timeStamp"].endswith("Z")
        if pages:
            assert _link(doc, "prev") is not None
        seen += [f["id"] for f in doc["features"]]
        url = _link(doc, "next")
        pages += 1
    assert pages == -(-len(expected) // 25)
    assert len(seen) == len(set(seen)) and set(seen) == expected


def test_deposits_serve_sites_and_deposit_records_every_record(
    client: TestClient, real_store: Store
) -> None:
    sites = client.get("/collections/deposits/items", params={"limit": 1}).json()
    records = client.get("/collections/deposit_records/items", params={"limit": 1}).json()
    assert (sites["numberMatched"], records["numberMatched"]) == (199565, 270301)
    assert records["numberMatched"] == len(real_store.kind_frame(LayerKind.DEPOSITS))
    site = client.get("/collections/deposits/items/mrds:10077604").json()["properties"]
    assert (site["name"], site["n_records"], site["dev_status"]) == (
        "Niagara Group",
        19,
        "past_producer",
    )
    detail = site["records_detail"]  # decoded: a list of records, not JSON text
    assert [r["id"] for r in detail] == site["records"]
    mrds = next(r for r in detail if r["id"] == "mrds:10077610")
    assert mrds["source"] == "mrds" and mrds["source_url"].endswith("dep_id=10077610")
    assert mrds["name"] == "Summit" and mrds["linked_by"] == ["dep_id", "name_near"]
    moved = client.get("/collections/deposits/items/mrds:10077610", follow_redirects=False)
    assert moved.status_code == 308  # an MRDS duplicate's URL leads to its site
    assert moved.headers["location"].endswith("/collections/deposits/items/mrds:10077604")
    symbol = client.get("/collections/deposit_records/items/usmin:5501821-17").json()
    assert symbol["properties"]["site_id"] == "mrds:10077604"
    assert symbol["properties"]["name"] == "Niagara Summit Mine"
    assert symbol["properties"]["source"] == "usmin_mine_features"
    chromium = client.get(
        "/collections/deposit_records/items", params={"commodity": "chromium", "limit": 1}
    ).json()
    every = real_store.kind_frame(LayerKind.DEPOSITS)["commodities"]
    assert chromium["numberMatched"] == int(every.map(lambda c: "chromium" in c).sum())
    land = client.get("/collections/deposit_records/items", params={"agency": "BLM"})
    assert land.status_code == 400


def test_commodity_as_code_list_and_repeat(client: TestClient) -> None:
    def matched(query: str) -> int:
        return client.get(f"/collections/deposits/items?limit=1&{query}").json()["numberMatched"]

    by_name = matched("commodity=chromium")
    assert matched("commodity=CR") == by_name
    both = matched("commodity=chromium,nickel")
    assert both == matched("commodity=chromium&commodity=nickel") >= by_name


def test_offset_beyond_the_end(client: TestClient) -> None:
    doc = client.get("/collections/states/items", params={"offset": 1000, "limit": 10}).json()
    assert doc["numberReturned"] == 0 and doc["features"] == []
    assert doc["numberMatched"] == 56
    assert _link(doc, "next") is None
    assert "offset=46" in _link(doc, "prev")  # the last page with features, not 990


def test_single_feature_black_bear(client: TestClient, real_store: Store) -> None:
    response = client.get(f"/collections/deposits/items/{BLACK_BEAR}")
    assert response.status_code == 200
    feature = response.json()
    stored = real_store.frame("mrds").set_index("id").loc[BLACK_BEAR]
    assert feature["id"] == BLACK_BEAR
    assert feature["geometry"]["coordinates"] == [stored.geometry.x, stored.geometry.y]
    props = feature["properties"]
    assert props["name"] == "Black Bear" == stored["name"]
    assert props["dev_status"] == "past_producer"
    assert props["commodities"] == ["gold"] and props["county"] == "Shasta"
    # enriched: list-valued overlay columns are JSON arrays, distances are numbers
    assert isinstance(props["land_unit_ids"], list)
    assert props["mineral_entry"] in ("open", "restricted", "closed", "unknown", "non_federal")
    assert isinstance(props["dist_rail_m"], float)
    assert not {"x_m", "y_m", "metric_epsg"} & set(props)
    assert _link(feature, "collection").endswith("/collections/deposits")


def test_lands_and_infrastructure_filters(client: TestClient, real_store: Store) -> None:
    lands = real_store.kind_frame(LayerKind.FEDERAL_LANDS)
    doc = client.get("/collections/federal_lands/items?agency=NPS&limit=1").json()
    assert doc["numberMatched"] == int((lands["agency"] == "NPS").sum())
    closed = client.get("/collections/federal_lands/items?mineral_entry=closed&limit=1").json()
    assert closed["numberMatched"] == int((lands["mineral_entry"] == "closed").sum())
    infrastructure = real_store.kind_frame(LayerKind.INFRASTRUCTURE)
    by_kind = {"roads": "road", "railroads": "rail", "transmission_lines": "power"}
    for collection, kind in by_kind.items():
        doc = client.get(f"/collections/{collection}/items?limit=1").json()
        assert doc["numberMatched"] == int((infrastructure["kind"] == kind).sum()) > 0
    california = client.get("/collections/states/items?state=ca").json()
    assert [f["properties"]["name"] for f in california["features"]] == ["California"]


@pytest.mark.parametrize(
    ("url", "status", "reason"),
    [
        ("/collections/nope/items", 404, "unknown collection 'nope'"),
        ("/collections/deposits/items/mrds:0", 404, "no feature 'mrds:0'"),
        ("/collections/deposits/items?bbox=1,2,3", 400, "expected 4 numbers"),
        ("/collections/deposits/items?bbox=-200,40,-122,41", 400, "longitudes must lie in"),
        ("/collections/deposits/items?bbox=-123,-95,-122,41", 400, "latitudes must lie in"),
        ("/collections/deposits/items?bbox=-122,41,-123,40", 400, "inverted box"),
        ("/collections/deposits/items?bbox=a,b,c,d", 400, "not numbers"),
        ("/collections/deposits/items?limit=10001", 400, "maximum page size 10000"),
        ("/collections/deposits/items?limit=0", 422, "greater than or equal to 1"),
        ("/collections/deposits/items?offset=-1", 422, "greater than or equal to 0"),
        ("/collections/deposits/items?commodity=unobtainium", 400, "unknown commodity"),
        ("/collections/deposits/items?dev_status=mined_out", 400, "dev_status: unknown value"),
        ("/collections/deposits/items?agency=NASA", 400, "agency: unknown value"),
        ("/collections/deposits/items?critical=maybe", 422, "valid boolean"),
        ("/collections/roads/items?commodity=gold", 400, "does not take ['commodity']"),
        ("/collections/deposits/items?crs=EPSG:3857", 400, "only http://www.opengis.net"),
        ("/collections/deposits/items?f=xml", 422, "'json' or 'html'"),
    ],
)
def test_bad_input_is_a_4xx_with_a_reason(
    client: TestClient, url: str, status: int, reason: str
) -> None:
    response = client.get(url)
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == status
    assert reason in str(body["detail"]), body


def test_ranked_cells_from_the_default_ranking(client: TestClient, app_settings: Settings) -> None:
    """Computed on first request (the engine's default ranking), then served like the rest."""
    doc = client.get("/collections/ranked_cells/items", params={"limit": 5}).json()
    engine = client.app.state.serving.current.engine
    cells = engine.rank(default_rank_params(app_settings)).all_cells.sort_values("rank")
    assert doc["numberMatched"] == len(cells)
    assert [f["id"] for f in doc["features"]] == list(cells["cell_id"][:5])
    best = doc["features"][0]["properties"]
    assert best["rank"] == 1 and best["score"] == pytest.approx(cells["score"].iloc[0])
    assert isinstance(best["top_deposit_ids"], list)
    meta = client.get("/collections/ranked_cells").json()
    assert meta["fedmin:computed"] is True and meta["extent"]["spatial"]["bbox"]
    lon, lat = cells["lon"].iloc[0], cells["lat"].iloc[0]
    tile = morecantile.tms.get("WebMercatorQuad").tile(lon, lat, 9)
    mvt = client.get(f"/collections/ranked_cells/tiles/WebMercatorQuad/9/{tile.x}/{tile.y}")
    features = mapbox_vector_tile.decode(mvt.content)["ranked_cells"]["features"]
    ids = {f["properties"]["id"] for f in features}
    assert cells["cell_id"].iloc[0] in ids


def _synthetic_frame():
    """Three synthetic points with a list column and a missing value (not real data)."""
    import geopandas as gpd
    import shapely

    return gpd.GeoDataFrame(
        {"id": ["s:1", "s:2", "s:3"], "name": ["a", None, "c"], "tags": [["x"], [], ["y", "z"]]},
        geometry=[shapely.Point(0, 0), shapely.Point(1, 1), shapely.Point(2, 2)],
        crs=4326,
    )


def test_encoded_features_are_mapped_from_disk_on_the_next_start(tmp_path) -> None:
    import json

    import numpy as np

    from app.collections import EncodedFeatures

    frame = _synthetic_frame()
    ids = frame["id"].to_numpy(dtype=object)
    args = (frame, ids, ["name", "tags"], ())
    first = EncodedFeatures.cached(tmp_path, "synthetic:build-1", *args).result()
    files = sorted(p.name for p in tmp_path.iterdir())
    assert len(files) == 2 and files[0].endswith(".bin") and files[1].endswith(".offsets.npy")
    # The writer maps what it wrote, as later starts do (not its encoded heap buffer).
    assert type(first._buffer).__name__ == "mmap"
    written = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    again = EncodedFeatures.cached(tmp_path, "synthetic:build-1", *args).result()
    assert type(again._buffer).__name__ == "mmap"
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == written  # read back
    assert again.take(np.arange(3)) == first.take(np.arange(3))
    feature = json.loads(again[2])
    assert feature["id"] == "s:3" and feature["properties"] == {"name": "c", "tags": ["y", "z"]}
    assert feature["geometry"] == {"type": "Point", "coordinates": [2.0, 2.0]}
    assert json.loads(again[1])["properties"]["name"] is None
    # Another build (or other columns) is another file; a truncated file is re-encoded.
    other = EncodedFeatures.cached(tmp_path, "synthetic:build-2", *args).result()
    assert len(list(tmp_path.iterdir())) == 4 and other.take(np.arange(3)) == first.take(
        np.arange(3)
    )
    bin_file = next(p for p in tmp_path.iterdir() if p.suffix == ".bin")
    bin_file.write_bytes(bin_file.read_bytes()[:-5])
    for key in ("synthetic:build-1", "synthetic:build-2"):
        repaired = EncodedFeatures.cached(tmp_path, key, *args).result()
        assert json.loads(repaired[0])["id"] == "s:1"


def test_deferred_features_are_encoded_once_start_up_is_done(tmp_path) -> None:
    """Held while the registry is built, encoded on the background thread once it is
    released, streamed to the file and mapped; the same bytes as an encoding in memory.
    Where the file cannot be written, the features are still served, from memory."""
    import numpy as np

    from app.collections import AfterStartup, EncodedFeatures

    frame = _synthetic_frame()
    args = (frame, frame["id"].to_numpy(dtype=object), ["name", "tags"], ())
    held = AfterStartup()
    pending = EncodedFeatures.cached(tmp_path, "synthetic:build-1", *args, held)
    assert not pending.done() and not list(tmp_path.iterdir())  # nothing during start-up
    held.release()
    features = pending.result(timeout=60)
    assert type(features._buffer).__name__ == "mmap"
    in_memory = EncodedFeatures.encode(*args)
    assert features.take(np.arange(3)) == in_memory.take(np.arange(3))
    assert held.submit(len, "abc").result(timeout=60) == 3  # after the release: at once
    failed_start = AfterStartup()
    dropped = failed_start.submit(len, "abc")
    failed_start.release(cancel=True)
    assert dropped.cancelled()
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    unwritable = EncodedFeatures.cached(blocker / "cache", "synthetic:build-1", *args, held)
    kept = unwritable.result(timeout=60)
    assert isinstance(kept._buffer, bytes) and kept.take(np.arange(3)) == in_memory.take(
        np.arange(3)
    )


def test_tile_attributes_are_read_back_from_disk_on_the_next_start(tmp_path) -> None:
    """Coded once, written beside the store, mapped by later starts: the same keys,
    values (an int and an equal float stay two values) and codes, without coding again."""
    import numpy as np

    from app.collections import cached_tile_attributes
    from app.encoders.mvt import TileAttributes

    columns = {  # synthetic values, not real data
        "name": ["a", None, "a", "b"],
        "n": [1, 1.0, True, None],
        "id": ["s:1", "s:2", "s:3", "s:4"],
    }
    built: list[TileAttributes] = []

    def build() -> TileAttributes:
        built.append(TileAttributes(columns))
        return built[-1]

    first = cached_tile_attributes(tmp_path, ["synthetic", "build-1"], 4, build)
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".json", ".npy"]
    again = cached_tile_attributes(tmp_path, ["synthetic", "build-1"], 4, build)
    assert len(built) == 1 and isinstance(again.codes, np.memmap)
    assert again.keys == ("name", "n", "id") and again.values == built[0].values
    typed = {(field, type(v), v) for field, v in again.values if v in (1, True)}
    assert typed == {
        ("int_value", int, 1),
        ("double_value", float, 1.0),
        ("bool_value", bool, True),
    }
    assert np.array_equal(again.codes, built[0].codes) and again.codes[1, 0] == -1
    assert np.array_equal(first.codes, built[0].codes)
    # Another build is another file; a damaged file is coded and written again.
    cached_tile_attributes(tmp_path, ["synthetic", "build-2"], 4, build)
    assert len(built) == 2 and len(list(tmp_path.iterdir())) == 4
    for values_file in tmp_path.glob("*.json"):
        values_file.write_bytes(b"{")
    repaired = cached_tile_attributes(tmp_path, ["synthetic", "build-1"], 4, build)
    assert len(built) == 3 and repaired.values == built[0].values


def test_the_store_keeps_each_collections_encoded_features(
    client: TestClient, real_store: Store
) -> None:
    page = client.get("/collections/deposits/items", params={"limit": 3}).json()
    assert len(page["features"]) == 3
    cached = list((real_store.root / "cache").glob("features-*.bin"))
    assert len(cached) >= 5  # deposits, records, lands, claims, infrastructure, ...
