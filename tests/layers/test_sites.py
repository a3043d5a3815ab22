"""Records -> sites on the real data: link counts per rule and source, named sites, the
measured precision and recall of the name rule on the hand-labelled sample."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from layers import sites, store
from layers.schema import LayerKind
from tests.layers.fixtures.draw_link_sample import minmod_ca_records

FIXTURES = Path(__file__).parent / "fixtures"
HAND_LABELLED = FIXTURES / "link_pairs_hand_labelled.csv"


def _confusion(sample: pd.DataFrame) -> tuple[int, int, int]:
    predicted = sites.rule3_match(
        sample["name_a"].tolist(), sample["name_b"].tolist(), sample["distance_m"].to_numpy()
    )
    same = sample["same"].to_numpy() == 1
    return (
        int((predicted & same).sum()),
        int((predicted & ~same).sum()),
        int((~predicted & same).sum()),
    )


@pytest.mark.parametrize(
    ("sample", "pairs", "expected"),
    [("tuning", 150, (58, 0, 3)), ("held_out", 60, (28, 0, 2))],
)
def test_name_rule_precision_and_recall_on_the_hand_labelled_pairs(
    sample: str, pairs: int, expected: tuple[int, int, int]
) -> None:
    """The figures docs/data.md states: precision 1.000 / recall 0.951 (tuning) and
    1.000 / 0.933 (held out)."""
    table = pd.read_csv(HAND_LABELLED, keep_default_na=False)
    part = table.loc[table["sample"].eq(sample)]
    assert len(part) == pairs
    tp, fp, fn = _confusion(part)
    assert (tp, fp, fn) == expected
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    assert round(precision, 3) == 1.0
    assert round(recall, 3) == {"tuning": 0.951, "held_out": 0.933}[sample]


def test_the_hand_labelled_pairs_are_real_records(real_store: store.Store) -> None:
    """Every MRDS and USMIN record of the sample is in the store with that name."""
    table = pd.read_csv(HAND_LABELLED, keep_default_na=False)
    records = real_store.kind_frame(LayerKind.DEPOSITS).set_index("id")
    for side in ("a", "b"):
        ours = table.loc[table[f"layer_{side}"].isin(("mrds", "usmin_mine_features"))]
        assert (records.loc[ours[f"id_{side}"], "name"].to_numpy() == ours[f"name_{side}"]).all()


def test_name_normalization() -> None:
    assert sites.normalize_name("Eureka & W.J.D. Prospects") == "eureka wjd"
    assert sites.normalize_name("Salt Creek No2 and No3 Claims") == "salt creek 2 3"
    assert sites.normalize_name("Mt. Shasta Mine") == "mount shasta"
    for generic in (
        "Unnamed (ridge at head of Spruce Creek)",
        "Gold Placer",
        "Manganese No. 2",
        "",
    ):
        assert sites.normalize_name(generic) is None
    match = sites.rule3_match(
        ["Inman No. 1", "South Liberty Lode", "Gypsie Queen", "Black Bear", "Black Bear"],
        ["Inman No. 2", "Liberty Mine", "Gypsy Queen Mine", "Black Bear Mine", "Black Bear Mine"],
        np.array([10.0, 10.0, 47.0, 1400.0, 1600.0]),
    )
    assert match.tolist() == [False, False, True, True, False]


def test_minmod_keys() -> None:
    assert sites.minmod_key("site__mrdata-usgs-gov-mrds__10136486__umn") == "dep:10136486"
    assert sites.minmod_key("site__doi-org-10-5066-p9k1hbnt__320__jhammars") == (
        sites.minmod_key("site__doi-org-10-5066-p9k1hbnt__320__umn")
    )


def test_link_report_and_site_counts(real_store: store.Store) -> None:
    report = real_store.manifest["layers"]["sites"]["link_report"]
    assert report["records"] == 8522
    assert report["sites"] == real_store.manifest["layers"]["sites"]["rows"] == 7913
    assert report["rules"] == {
        "dep_id": {"records_linked": 0, "sites_merged": 0},
        "same_as": {"records_linked": 233, "sites_merged": 128},
        "name_near": {"records_linked": 675, "sites_merged": 481},
    }
    assert (report["same_as_links_between_records"], report["same_as_links_too_far"]) == (269, 46)
    assert report["per_source"] == {
        "mrds": {"records": 4330, "sites": 4153},
        "mrds_tungsten": {"records": 1694, "sites": 1610},
        "porphyry_copper": {"records": 100, "sites": 100},
        "usgs_lithium": {"records": 21, "sites": 21},
        "usmin_mine_features": {"records": 2377, "sites": 2225},
    }
    per_state = report["sites_per_state"]
    assert (per_state["CA"], per_state["NV"], per_state["AZ"], per_state["AK"]) == (
        6784,
        1034,
        39,
        14,
    )
    assert sum(per_state.values()) == 7913
    frame = real_store.frame("sites")
    assert int(frame["n_records"].sum()) == 8522  # every record in exactly one site
    assert frame["records"].explode().is_unique


def test_same_as_links_between_distant_unnamed_records_are_not_used(
    real_store: store.Store,
) -> None:
    """MinMod links 19 "Unnamed Location" MRDS records over 19 x 25 km into one site; only
    the 6 within 1.5 km of each other stay linked."""
    frame = real_store.frame("sites").set_index("id")
    assert frame["n_records"].max() == 7
    site = frame.loc["mrds:10077752"]
    assert (site["name"], site["n_records"], list(site["link_rules"])) == (
        "Unnamed Location",
        6,
        ["same_as"],
    )
    records = real_store.kind_frame(LayerKind.DEPOSITS).set_index("id")
    xmin, ymin, xmax, ymax = records.loc[list(site["records"])].to_crs(5070).total_bounds
    assert max(xmax - xmin, ymax - ymin) < sites.LINK_DISTANCE_M


def test_a_site_with_duplicate_dep_ids_and_mine_symbols(real_store: store.Store) -> None:
    """Niagara Group (Shasta County): four MRDS records and three USMIN mine symbols."""
    site = real_store.frame("sites").set_index("id").loc["mrds:10077604"]
    assert site["name"] == "Niagara Group"
    assert list(site["sources"]) == ["mrds", "usmin_mine_features"]
    assert list(site["dep_ids"]) == ["10077604", "10077610", "10165229", "10213964"]
    assert set(site["alt_names"]) == {"Summit", "Niagara Summit Mine", "Summit Mine"}
    assert site["dev_status"] == "past_producer"
    detail = json.loads(site["records_detail"])
    assert [d["id"] for d in detail] == list(site["records"])
    assert {d["source"] for d in detail} == {"mrds", "usmin_mine_features"}
    assert all(d["linked_by"] == ["name_near"] for d in detail)


def test_kings_valley_is_found_as_thacker_pass(real_store: store.Store) -> None:
    site = real_store.frame("sites").set_index("id").loc["usgs_lithium:NV00118"]
    assert site["name"] == "Kings Valley"
    assert "Thacker Pass" in list(site["alt_names"])
    assert site["state"] == "NV"


def test_porphyry_inventory_travels_with_its_record(real_store: store.Store) -> None:
    frame = real_store.frame("sites")
    porcu = frame.loc[frame["source"].eq("porphyry_copper") & frame["inventory"].notna()]
    assert len(porcu) > 50
    items = json.loads(porcu.iloc[0]["inventory"])
    assert {i["layer"] for i in items} == {"porphyry_copper"}
    assert {i["record"] for i in items} == set(porcu.iloc[0]["records"])
    assert items[0]["commodity"] == "copper"


@pytest.fixture(scope="module")
def three_source_sites(real_store: store.Store, mirror_dir: Path) -> gpd.GeoDataFrame:
    """The store's records plus MinMod's USGS MRDS of California records (real, read from
    the mirror) of the northern California box, linked (rule 3 only links those)."""
    records = real_store.kind_frame(LayerKind.DEPOSITS)
    minmod = minmod_ca_records(mirror_dir)
    minmod = minmod.assign(
        source_id=minmod["id"].str.split(":").str[1],
        dev_status="unknown",
        critical=False,
        commodities=[[] for _ in range(len(minmod))],
    )
    both = gpd.GeoDataFrame(pd.concat([records, minmod], ignore_index=True), crs=4326)
    frame, _ = sites.build_sites(both, pd.DataFrame({"key_1": [], "key_2": []}))
    return frame.set_index("id")


def test_iron_mountain_has_records_of_three_sources_and_one_site_id(
    three_source_sites: gpd.GeoDataFrame,
) -> None:
    """Iron Mountain Mine (Shasta County, a producer): four MRDS dep_ids, four MinMod CA
    records and a USMIN mine symbol, one site ``mrds:<lowest dep_id>``."""
    site = three_source_sites.loc["mrds:10077593"]
    assert site["name"] == "Iron Mountain Mine"
    # Sources best first: MRDS, then the (unranked) MinMod layer, then the mine symbol.
    assert list(site["sources"]) == ["mrds", "minmod_mrds_california", "usmin_mine_features"]
    assert list(site["dep_ids"]) == ["10077593", "10189961", "10216041", "60000273"]
    assert site["n_records"] == 9
    assert site["dev_status"] == "producer"
    assert "Iron Mountain District" in list(site["alt_names"])
    members = three_source_sites.index[
        three_source_sites["records"].map(lambda r: "usmin:5526061-26" in r)
    ]
    assert members.tolist() == ["mrds:10077593"]
