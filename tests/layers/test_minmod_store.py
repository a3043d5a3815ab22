"""MinMod layers in the store built from the real mirror: counts after merge per source, per
state and in total, named records checked against their source JSON, coverage."""

from __future__ import annotations

import json
from pathlib import Path

import pyproj
import pytest

from layers import catalog, minmod, reference, store
from layers.schema import LayerKind

SITES = "deposits/minmod/ta2-minmod-data/data/mineral-sites"
SAMPLE_2025_06 = "deposits/minmod/ta2-minmod-data-sample/050079af/data/mineral-sites"

#: Records per MinMod layer after merge, invalid-coordinate and US filters.
EXPECTED_MINMOD_ROWS = {
    "minmod_mrds": 144098,
    "mrds_california": 42744,
    "ardf": 7719,
    "umos": 7792,
    "dogami": 23316,
    "idaho_igs": 2000,
    "earth_mri": 682,
    "usmin_deposits": 427,
    "pp1802": 411,
    "usgs_nicrpge": 6291,
    "usgs_major_deposits": 376,
    "usgs_ree": 84,
    "usgs_porcu": 102,
    "usgs_potash": 77,
    "usgs_phosphate": 106,
    "usgs_sedcu": 103,
    "usgs_sedznpb": 66,
    "usgs_sedexmvt": 22,
    "usgs_sedau": 87,
    "usgs_vms": 99,
    "usgs_podchrome": 581,
    "usgs_carbonatite": 5,
    "usgs_laterite": 3,
    "usgs_asbestos": 913,
    "usgs_copper_assessment": 69,
    "usgs_pp577": 2181,
    "nc_survey": 7008,
    "va_survey": 9842,
    "al_survey": 4397,
    "mining_reports": 137,
    "world_tin_tungsten": 41,
}

MERGED = "records merged (same source record from several creators or snapshots)"
OUTSIDE = "outside the United States (by location)"


def _raw_record(folder: Path, record_id: str) -> dict:
    """The record as published, straight from its bucket JSON."""
    for bucket in minmod.bucket_files(folder):
        for record in json.loads(minmod.bucket_bytes(bucket)):
            if str(record["record_id"]) == record_id:
                return record
    raise AssertionError(f"{record_id} not in {folder}")


def test_every_minmod_layer_has_its_count_after_merge(real_store: store.Store) -> None:
    layers = real_store.manifest["layers"]
    assert {k: layers[k]["rows"] for k in EXPECTED_MINMOD_ROWS} == EXPECTED_MINMOD_ROWS
    assert sum(EXPECTED_MINMOD_ROWS.values()) == 261_779
    assert {x.id for x in catalog.MINMOD_LAYERS} == set(EXPECTED_MINMOD_ROWS)


def test_merge_and_drop_counts_are_reported(real_store: store.Store) -> None:
    layers = real_store.manifest["layers"]
    mrds = layers["minmod_mrds"]
    # five snapshots (251k rows) + SRI (175k) + curators, one row per dep_id
    assert mrds["counts"][MERGED] == 187_929
    assert mrds["dropped_rows"] == {"no location": 73_146, OUTSIDE: 20_615}
    assert layers["ardf"]["counts"][MERGED] == 6379  # SRI's ARDF records joined UMN's
    assert layers["ardf"]["dropped_rows"] == {OUTSIDE: 1}  # Middleton Island, 80 km offshore
    assert layers["mining_reports"]["dropped_rows"] == {
        "invalid coordinates (null, unparseable or out of range)": 39,
        "no location": 234,
        OUTSIDE: 913,
    }
    assert layers["usgs_nicrpge"]["dropped_rows"] == {OUTSIDE: 11_663}


def test_state_comes_from_the_location_not_from_minmod(real_store: store.Store) -> None:
    for layer_id in ("ardf", "umos", "dogami", "earth_mri", "usgs_asbestos"):
        frame = real_store.frame(layer_id)
        assert frame["state"].notna().all(), layer_id
    assert set(real_store.frame("ardf")["state"]) == {"AK"}
    assert set(real_store.frame("umos")["state"]) == {"UT"}
    dogami = real_store.frame("dogami")["state"].value_counts().to_dict()
    assert dogami == {"OR": 23307, "ID": 6, "CA": 2, "WA": 1}  # border sites, by location
    # earth_mri's MinMod state codes are partly Uruguayan departments; ours are US states
    postal = set(reference.state_postal_by_fips().values())
    assert set(real_store.frame("earth_mri")["state"]) <= postal


def test_national_mrds_counts_per_state(real_store: store.Store) -> None:
    states = real_store.frame("minmod_mrds")["state"].value_counts()
    assert states.head(6).to_dict() == {
        "CA": 22992,
        "CO": 9957,
        "NV": 8567,
        "OR": 8538,
        "UT": 7824,
        "AK": 7484,
    }
    assert len(states) == 53  # every state, DC and two territories


def test_ids_are_unique_across_deposit_layers(real_store: store.Store) -> None:
    deposits = real_store.kind_frame(LayerKind.DEPOSITS)
    assert deposits["id"].is_unique
    minmod_layers = set(EXPECTED_MINMOD_ROWS)
    ours = deposits[deposits["source"].isin(minmod_layers)]
    assert (ours["id"].str.split(":").str[0] == ours["source"]).all()


def test_red_dog_an_alaska_ardf_mine(real_store: store.Store, mirror_dir: Path) -> None:
    raw = _raw_record(mirror_dir / SITES / "umn/ardf", "DL001")
    red_dog = real_store.frame("ardf").set_index("id").loc["ardf:DL001"]
    assert raw["name"] == "Red Dog; Qanaiyaq; Hilltop; Aqqaluk; Paalaaq"
    assert red_dog["name"] == "Red Dog"
    assert list(red_dog["alt_names"]) == ["Qanaiyaq", "Hilltop", "Aqqaluk", "Paalaaq"]
    assert raw["site_type"] == "Mine" and red_dog["dev_status"] == "past_producer"
    assert {"zinc", "lead", "silver", "barite"} <= set(red_dog["commodities"])
    assert (red_dog["state"], red_dog["county"]) == ("AK", "Northwest Arctic")
    lon, lat = pyproj.Transformer.from_crs(4267, 4326, always_xy=True).transform(-162.8379, 68.0704)
    assert (red_dog.geometry.x, red_dog.geometry.y) == pytest.approx((lon, lat))
    assert red_dog["source_url"] == "https://mrdata.usgs.gov/ardf/show-ardf.php?ardf_num=DL001"
    assert "site__doi-org-10-5066-p96mmrfd__dl001__umn" in list(red_dog["minmod_ids"])


def test_a_utah_umos_site(real_store: store.Store, mirror_dir: Path) -> None:
    raw = _raw_record(mirror_dir / SITES / "umn/utah_mineral_occurrence_system", "357")
    assert raw["name"] == "Bingham Tunnel #2"
    assert raw["location_info"]["location"] == "POINT (406900 4488480)"
    site = real_store.frame("umos").set_index("id").loc["umos:357"]
    assert site["name"] == "Bingham Tunnel #2"
    assert list(site["commodities"]) == ["lead", "copper"]  # the code string "PB CU"
    lon, lat = pyproj.Transformer.from_crs(26912, 4326, always_xy=True).transform(406900, 4488480)
    assert (site.geometry.x, site.geometry.y) == pytest.approx((lon, lat))
    assert site["state"] == "UT"
    assert site["county"] == "Salt Lake"


def test_mountain_pass_rare_earths(real_store: store.Store, mirror_dir: Path) -> None:
    raw = _raw_record(mirror_dir / SITES / "umn/usgs_mrds_california", "30115")
    assert raw["name"] == "Mountain Pass Mine and Mill"
    site = real_store.frame("mrds_california").set_index("id").loc["mrds_california:30115"]
    assert {"neodymium", "lanthanum", "cerium", "europium"} <= set(site["commodities"])
    assert site["critical"]
    assert (site["state"], site["county"]) == ("CA", "San Bernardino")
    assert (site.geometry.x, site.geometry.y) == pytest.approx((-115.53218, 35.4786))
    assert site["dep_id"] is None  # a row number of the California release, not a dep_id


def test_a_nevada_lithium_record_found_by_its_alternate_name(
    real_store: store.Store, mirror_dir: Path
) -> None:
    raw = _raw_record(mirror_dir / SAMPLE_2025_06 / "umn/mrdata_mrds", "10023695")
    assert raw["aliases"] == ["Clayton Valley"]
    mrds = real_store.frame("minmod_mrds")
    found = mrds[mrds["alt_names"].map(lambda names: "Clayton Valley" in names)]
    assert "minmod_mrds:10023695" in set(found["id"])
    site = mrds.set_index("id").loc["minmod_mrds:10023695"]
    assert site["name"] == "Silver Peak Marsh"
    assert "lithium" in set(site["commodities"])
    assert site["dev_status"] == "producer"
    assert (site["state"], site["county"]) == ("NV", "Esmeralda")
    assert site["dep_id"] == "10023695"
    assert site["source_url"] == "https://mrdata.usgs.gov/mrds/show-mrds.php?dep_id=10023695"


def test_dogami_sc_is_crushed_stone_not_scandium(real_store: store.Store) -> None:
    dogami = real_store.frame("dogami")
    commodities = dogami["commodities"].explode()
    assert (commodities == "scandium").sum() == 0
    assert (commodities == "crushed_stone").sum() >= 7074


def test_deposit_coverage_polygons(real_store: store.Store) -> None:
    coverage = real_store.frame("deposit_coverage").set_index("source")
    assert coverage.loc["ardf", "coverage"] == "state_survey"
    assert coverage.loc["minmod_mrds", "coverage"] == "national_sampled"
    assert coverage.loc["mrds", "coverage"] == "region_box"
    assert coverage.loc["usgs_porcu", "coverage"] == "national_compilation"
    states = real_store.frame("states").set_index("state")
    assert coverage.loc["umos"].geometry.equals(states.loc["UT"].geometry)
    assert coverage.loc["mrds"].geometry.bounds == (-124.38, 40.07, -122.39, 41.75)
    assert set(coverage.index) == set(real_store.layer_ids(LayerKind.DEPOSITS))
