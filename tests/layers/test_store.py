"""The store built from the real mirror: counts, normalized records, rejected bad inputs."""

from __future__ import annotations

import json
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest

from layers import catalog, store
from layers.errors import SchemaError, SourceMissingError
from layers.schema import SHARED_TEXT_COLUMNS, LayerKind
from tests.layers.test_minmod_store import EXPECTED_MINMOD_ROWS

EXPECTED_ROWS = {
    "mrds": 4330,
    "usmin_mine_features": 2377,  # 2,617 features less 240 borrow/gravel/sand pits
    "usgs_lithium": 21,
    "mrds_tungsten": 1694,
    "porphyry_copper": 100,  # the United States rows of 690
    "usfs_ranger_districts": 503,
    # 2,287 less 971 Forest Service and 2 flagged artifacts, plus 20: the BLM polygons that
    # cross the Nevada line are cut there (BLM land is open only where its monuments are
    # mapped: layers/blm_screening.py)
    "federal_lands_coarse": 1334,
    "nps_units": 61,
    "usfs_wilderness": 451,
    "blm_wilderness": 306,
    "blm_wsa": 1091,
    "padus_nv": 109,  # 116 less 7 state-managed
    "nv_blm_nlcs": 6,
    "co_ut_wilderness": 67,
    "padus_wy_blm": 67,  # every named BLM unit of the PAD-US Wyoming subset
    "padus_nm": 52,  # 100 less the 48 state and local parks (not federal)
    "ak_protected_areas": 162,  # every CEC 2010 unit of Alaska, state areas included
    "blm_claims": 2823,  # 823 not closed + 2,000 closed
    "ca_state_highways": 1044,
    "ca_transmission_lines": 4829,
    "railroads": 752,  # USA rows of 1,127
    "states": 56,
    "counties": 3230,  # 3,231 less Falls Church, VA, whose geometry is empty upstream
    "populated_places": 769,  # adm0_a3 = USA rows of 7,343
    "rivers": 239,  # of 1,455 worldwide, clipped to the US boxes
    "lakes": 418,  # of 1,200 in North America, clipped to the US boxes
    "sites": 199565,  # 270,301 records linked (layers/sites.py; docs/data.md)
}


def test_every_layer_has_its_real_row_count(real_store: store.Store) -> None:
    rows = {k: v["rows"] for k, v in real_store.manifest["layers"].items() if v["rows"]}
    deposit_layers = len(real_store.layer_ids(LayerKind.DEPOSITS))
    assert deposit_layers == 5 + len(EXPECTED_MINMOD_ROWS)
    coverage = {"deposit_coverage": deposit_layers}  # one polygon per deposits layer
    assert rows == {**EXPECTED_ROWS, **EXPECTED_MINMOD_ROWS, **coverage}
    # official national sources the mirror does not hold (``fedmin data fetch`` gets them)
    assert set(real_store.manifest["absent"]) == {
        "tiger_primary_roads",
        "tiger_prisec_roads",
        "hifld_transmission_lines",
        "blm_sma",
        "padus4",
    }


def test_manifest_records_source_checksums(real_store: store.Store) -> None:
    mrds = real_store.manifest["layers"]["mrds"]
    assert mrds["sources"][0]["sha256"] == catalog.layer("mrds").primary.sha256
    assert mrds["bounds"] == pytest.approx([-124.37586, 40.07176, -122.39415, 41.74095])


def test_black_bear_is_a_gold_past_producer_in_shasta_county(real_store: store.Store) -> None:
    mrds = real_store.frame("mrds").set_index("id")
    black_bear = mrds.loc["mrds:10034372"]
    assert black_bear["name"] == "Black Bear"
    assert black_bear["dev_status"] == "past_producer"
    assert list(black_bear["commodities"]) == ["gold"]
    assert black_bear["primary_commodity"] == "gold"
    assert not black_bear["critical"]
    assert (black_bear["state"], black_bear["county"]) == ("CA", "Shasta")
    assert black_bear["source_url"].endswith("dep_id=10034372")
    assert (black_bear.geometry.x, black_bear.geometry.y) == (-122.51081, 40.55707)


def test_every_mrds_record_is_normalized(real_store: store.Store) -> None:
    mrds = real_store.frame("mrds")
    assert mrds["dev_status"].value_counts().to_dict() == {
        "past_producer": 1566,
        "unknown": 1120,
        "occurrence": 1044,
        "producer": 340,
        "prospect": 260,
    }
    commodities = mrds["commodities"].explode()
    assert not commodities.dropna().str.startswith("code:").any()
    assert (commodities == "gold").sum() == 2812
    assert (commodities == "chromium").sum() == 489
    chromium = mrds[mrds["commodities"].map(lambda c: "chromium" in c)]
    assert chromium["critical"].all()


def test_critical_flags_for_tungsten_and_lithium(real_store: store.Store) -> None:
    tungsten = real_store.frame("mrds_tungsten")
    has_tungsten = tungsten["commodities"].map(lambda c: "tungsten" in c)
    assert tungsten.loc[has_tungsten, "critical"].all()
    lithium = real_store.frame("usgs_lithium").set_index("id")
    assert lithium["critical"].all()  # Silver Peak's "lithium carbonate" counts as lithium
    assert "lithium" in lithium.loc["usgs_lithium:NV00147", "commodities"]


def test_land_units_carry_agency_and_mineral_entry(real_store: store.Store) -> None:
    lands = real_store.kind_frame(LayerKind.FEDERAL_LANDS)
    by_designation = lands.groupby("designation")["mineral_entry"].unique().to_dict()
    assert list(by_designation["wilderness"]) == ["closed"]
    assert list(by_designation["national_forest"]) == ["open"]
    assert list(by_designation["wilderness_study_area"]) == ["restricted"]
    trinity = lands[lands["name"].eq("Trinity Alps Wilderness")]
    assert trinity[["agency", "mineral_entry"]].values.tolist() == [["USFS", "closed"]]


def test_boundaries_read_back_without_empty_parts(real_store: store.Store) -> None:
    boundaries = real_store.kind_frame(LayerKind.BOUNDARIES)
    assert not boundaries.geometry.is_empty.any()
    assert real_store.manifest["layers"]["counties"]["dropped_rows"] == {"empty geometry": 1}
    shasta = boundaries[boundaries["id"].eq("06089")]
    assert shasta[["name", "level", "state"]].values.tolist() == [["Shasta", "county", "CA"]]


def test_basemap_places_and_water_are_us_and_labelled(real_store: store.Store) -> None:
    places = real_store.frame("populated_places").set_index("id")
    redding = places.loc["populated_places:CA:Redding"]
    assert redding["name"] == "Redding" and redding["feature"] == "place"
    assert redding["geometry"].x == pytest.approx(-122.39, abs=0.02)
    assert redding["geometry"].y == pytest.approx(40.58, abs=0.02)
    assert redding["population"] > 80_000 and 4 <= redding["min_zoom"] <= 8
    capitals = places.loc[places["category"].eq("Admin-1 capital")]
    assert "Sacramento" in set(capitals["name"]) and len(capitals) == 50
    assert places["state"].notna().all() and places["min_zoom"].notna().all()
    rivers = real_store.frame("rivers")
    assert {"Mississippi", "Sacramento", "Columbia"} <= set(rivers["name"])
    assert set(rivers.geom_type) <= {"LineString", "MultiLineString"}
    lakes = real_store.frame("lakes")
    assert {"Lake Abert", "Eagle Lake", "Priest Lake"} <= set(lakes["name"])
    for frame in (rivers, lakes):  # clipped to the US boxes: nothing north of 72 N
        assert frame.total_bounds[3] <= 72 and frame.total_bounds[0] >= -180


def test_claims_are_typed_and_have_a_status(real_store: store.Store) -> None:
    claims = real_store.frame("blm_claims")
    assert claims["status"].value_counts().to_dict() == {"closed": 2000, "active": 823}
    assert set(claims["claim_type"]) <= {"lode", "placer", "mill_site"}


def _copy_raw(mirror_dir: Path, target: Path, layer_ids: list[str]) -> None:
    for layer_id in layer_ids:
        entry = catalog.layer(layer_id)
        for source in entry.sources:
            for path in (source.mirror_path, *(c for c, _ in source.companions)):
                (target / path).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(mirror_dir / path, target / path)


def test_rebuild_is_skipped_when_sources_are_unchanged(tmp_path: Path, mirror_dir: Path) -> None:
    layers = [catalog.layer("states"), catalog.layer("nps_units")]
    _copy_raw(mirror_dir, tmp_path / "raw", ["states", "nps_units"])
    first = store.build(tmp_path / "raw", tmp_path, layers=layers, progress=False)
    second = store.build(tmp_path / "raw", tmp_path, layers=layers, progress=False)
    assert not first.skipped and second.skipped
    assert second.root == first.root


def test_bad_inputs_are_rejected_and_the_previous_store_survives(
    tmp_path: Path, mirror_dir: Path
) -> None:
    layers = [catalog.layer("states"), catalog.layer("mrds")]
    raw = tmp_path / "raw"
    _copy_raw(mirror_dir, raw, ["states", "mrds"])
    good = store.build(raw, tmp_path, layers=layers, progress=False)
    mrds_path = raw / "deposits/mrds_norcal/MRDS.txt"
    original = mrds_path.read_text()

    lines = original.splitlines()
    lines[5] = lines[5].replace("\t-12", "\tnorth-12", 1)
    mrds_path.write_text("\n".join(lines) + "\n")
    with pytest.raises(SchemaError, match=r"MRDS\.txt: row 6 has unparseable coordinates"):
        store.build(raw, tmp_path, layers=layers, progress=False)

    mrds_path.write_text(original.replace("code_list", "codes", 1))
    with pytest.raises(SchemaError, match=r"MRDS\.txt: missing columns \['code_list'\]"):
        store.build(raw, tmp_path, layers=layers, progress=False)

    mrds_path.unlink()
    with pytest.raises(SourceMissingError, match=r"deposits/mrds_norcal/MRDS\.txt"):
        store.build(raw, tmp_path, layers=layers, progress=False)

    still = store.open_store(tmp_path)
    assert still.root == good.root
    assert json.loads((still.root / "manifest.json").read_text())["layers"]["mrds"]["rows"] == 4330
    assert not list((tmp_path / "stores").glob(".tmp-*"))


def test_read_geoparquet_reads_every_store_layer_as_geopandas_does(
    real_store: store.Store,
) -> None:
    """The store's own reader (CRS parsed once, GeoArrow decoded by shapely) gives the
    frames geopandas gives: columns, dtypes, index, CRS and every vertex; the repeated
    texts (``details``) hold the same values, one Python string per distinct value."""
    import geopandas as gpd
    from geopandas.testing import assert_geodataframe_equal

    vector = [k for k, v in real_store.manifest["layers"].items() if v["kind"] != "raster"]
    assert len(vector) > 30
    shared_in_some = 0
    for layer_id in vector:
        path = real_store.root / real_store.manifest["layers"][layer_id]["file"]
        expected, got = gpd.read_parquet(path), store.read_geoparquet(path)
        assert list(got.columns) == list(expected.columns), layer_id
        for column in [c for c in SHARED_TEXT_COLUMNS if c in expected]:
            values = got.pop(column)
            texts = expected.pop(column)
            if texts.isna().all():
                continue  # a null column: as geopandas reads it
            assert values.dtype == object, layer_id
            assert values.tolist() == [None if pd.isna(v) else v for v in texts], layer_id
            distinct_objects = len({id(v) for v in values})
            assert distinct_objects == texts.nunique() + texts.isna().any(), layer_id
            shared_in_some += distinct_objects < len(values)
        assert_geodataframe_equal(got, expected, check_less_precise=False)
        assert list(got.dtypes) == list(expected.dtypes), layer_id
        assert got.geometry.geom_equals_exact(expected.geometry, 0).all(), layer_id
        assert got.crs == expected.crs and got.crs.to_epsg() == 4326
    assert shared_in_some > 10  # most deposits layers repeat their details


def test_read_geoparquet_decodes_wkb_and_hands_nulls_to_geopandas(tmp_path: Path) -> None:
    import geopandas as gpd
    import pyarrow as pa
    import shapely
    from geopandas.testing import assert_geodataframe_equal

    frame = gpd.GeoDataFrame(  # synthetic fixture: three polygons, one with a hole
        {"id": ["a", "b", "c"], "n": [1, 2, 3]},
        geometry=[
            shapely.box(-116.5, 39.1, -116.0, 39.4),
            shapely.box(-120.25, 41.0, -120.0, 41.5),
            shapely.Polygon([(0, 0), (4, 0), (4, 4), (0, 0)], [[(1, 0.5), (3, 0.5), (3, 2.5)]]),
        ],
        crs=4326,
    )
    for encoding in ("WKB", "geoarrow"):
        path = tmp_path / f"{encoding}.parquet"
        frame.to_parquet(path, geometry_encoding=encoding.lower())
        assert_geodataframe_equal(store.read_geoparquet(path), frame)
        buffer = pa.BufferReader(path.read_bytes())
        assert_geodataframe_equal(store.read_geoparquet(buffer), frame)
    with_null = frame.assign(geometry=[None, *frame.geometry[1:]])
    with_null.to_parquet(tmp_path / "null.parquet")
    got = store.read_geoparquet(pa.BufferReader((tmp_path / "null.parquet").read_bytes()))
    assert got.geometry.isna().tolist() == [True, False, False]
    assert got.crs.to_epsg() == 4326


def test_concatenated_layers_keep_text_columns_as_text_and_share_equal_lists(
    tmp_path: Path,
) -> None:
    """A text column one file leaves null stays text (not Python objects) when files are
    concatenated; rows with equal lists share one read-only array, a list with a null
    item is read alone; equal ``details`` share one string across the files, null is
    None; values are those of ``pd.concat`` of the files."""
    import geopandas as gpd
    import numpy as np
    import pandas as pd
    import shapely

    points = [shapely.Point(-116.5, 39.1), shapely.Point(-120.25, 41.0)]
    frames = [  # synthetic fixtures: two layers, the second without names
        gpd.GeoDataFrame(
            {
                "id": ["a:1", "a:2"],
                "name": ["Alpha", "Beta"],
                "tags": [["au", "ag"], ["cu"]],
                "details": ['{"code": "AU"}', '{"code": "CU"}'],
            },
            geometry=points,
            crs=4326,
        ),
        gpd.GeoDataFrame(
            {
                "id": ["b:1", "b:2"],
                "name": [None, None],
                "tags": [["au", "ag"], ["cu", None]],
                "details": [None, '{"code": "AU"}'],
            },
            geometry=points,
            crs=4326,
        ),
    ]
    paths = []
    for i, frame in enumerate(frames):
        paths.append(tmp_path / f"layer{i}.parquet")
        frame.to_parquet(paths[-1], geometry_encoding="geoarrow")
    got = store.concat_geoparquet(paths)
    expected = pd.concat([gpd.read_parquet(p) for p in paths], ignore_index=True)
    assert expected["name"].dtype == object and got["name"].dtype == "str"
    assert got["name"].tolist()[:2] == ["Alpha", "Beta"] and got["name"].isna().tolist()[2:] == [
        True,
        True,
    ]
    assert [list(v) for v in got["tags"]] == [list(v) for v in expected["tags"]]
    assert got["tags"][0] is got["tags"][2] and not got["tags"][0].flags.writeable
    assert got["tags"][3].tolist() == ["cu", None] and got["tags"][3] is not got["tags"][1]
    details = got["details"].tolist()
    assert got["details"].dtype == object
    assert details == ['{"code": "AU"}', '{"code": "CU"}', None, '{"code": "AU"}']
    assert details[0] is details[3]
    assert got.geometry.geom_equals_exact(expected.geometry, 0).all()
    assert got.crs.to_epsg() == 4326 and np.array_equal(got.index, np.arange(4))


def test_frames_are_read_side_by_side_and_each_once(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While one thread reads the deposit records (held here until released), another
    reads a layer of another kind (with one lock for all, it would wait for the first);
    four threads asking for one frame read it once and share it."""
    opened = store.open_store(data_dir)  # its own frames, none read yet
    held, release = threading.Event(), threading.Event()
    reads: list[tuple[str, ...]] = []
    concat = store.concat_geoparquet

    def slow_concat(paths: list[Path]) -> object:
        reads.append(tuple(p.stem for p in paths))
        if any(p.stem == "mrds" for p in paths):
            held.set()
            release.wait(60)
        return concat(paths)

    monkeypatch.setattr(store, "concat_geoparquet", slow_concat)
    with ThreadPoolExecutor(5) as pool:
        records = [pool.submit(opened.kind_frame, LayerKind.DEPOSITS) for _ in range(4)]
        assert held.wait(60)
        claims = pool.submit(opened.kind_frame, LayerKind.CLAIMS).result(timeout=60)
        assert not any(r.done() for r in records)  # still held: the claims did not wait
        release.set()
        frames = [r.result(timeout=120) for r in records]
    assert len(claims) == EXPECTED_ROWS["blm_claims"]
    assert all(f is frames[0] for f in frames)
    assert sum(1 for r in reads if "mrds" in r) == 1
