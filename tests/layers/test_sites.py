"""Records -> sites on the real data: link counts per rule and source, named sites, the
measured precision and recall of the name rule on the hand-labelled sample."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from layers import sites, store
from layers.schema import LayerKind

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
    assert report["records"] == 270301
    assert report["sites"] == real_store.manifest["layers"]["sites"]["rows"] == 199565
    assert report["rules"] == {
        "dep_id": {"records_linked": 6718, "sites_merged": 3359},
        "same_as": {"records_linked": 7494, "sites_merged": 4827},
        "name_near": {"records_linked": 91715, "sites_merged": 62550},
    }
    assert (report["same_as_links_between_records"], report["same_as_links_not_used"]) == (
        32836,
        22596,
    )
    per_source = report["per_source"]
    assert len(per_source) == 36
    assert {k: per_source[k] for k in ("mrds", "minmod_mrds", "mrds_california", "umos")} == {
        "mrds": {"records": 4330, "sites": 3315},
        "minmod_mrds": {"records": 144098, "sites": 130981},
        "mrds_california": {"records": 42744, "sites": 32216},
        "umos": {"records": 7792, "sites": 7497},
    }
    assert per_source["usgs_lithium"] == {"records": 21, "sites": 20}
    per_state = report["sites_per_state"]
    assert [per_state[s] for s in ("CA", "NV", "AZ", "AK", "UT")] == [
        37912,
        8539,
        6889,
        10977,
        10395,
    ]
    assert sum(per_state.values()) == 199565
    frame = real_store.frame("sites")
    assert int(frame["n_records"].sum()) == 270301  # every record in exactly one site
    assert frame["records"].explode().is_unique


def test_same_as_links_between_distant_unnamed_records_are_not_used(
    real_store: store.Store,
) -> None:
    """MinMod links 19 "Unnamed Location" MRDS records of Shasta County over 19 x 25 km;
    only those within 1.5 km of another stay linked."""
    frame = real_store.frame("sites").set_index("id")
    site = frame.loc["mrds:10077752"]
    assert (site["name"], site["n_records"]) == ("Unnamed Location", 12)
    records = real_store.kind_frame(LayerKind.DEPOSITS).set_index("id")
    mrds = [r for r in site["records"] if r.startswith("mrds:")]
    assert len(mrds) == 6  # of the 19; the others are their MinMod and California copies
    xmin, ymin, xmax, ymax = records.loc[mrds].to_crs(5070).total_bounds
    assert max(xmax - xmin, ymax - ymin) < 2 * sites.LINK_DISTANCE_M


def test_iron_mountain_has_records_of_six_sources_and_one_site_id(real_store: store.Store) -> None:
    """Iron Mountain Mine (Shasta County, a producer): four MRDS dep_ids in the MRDS table
    and in MinMod's sample, four records of MinMod's California MRDS, the Ni-Cr-PGE and VMS
    compilations and a USMIN mine symbol: one site, ``mrds:<lowest dep_id>``."""
    site = real_store.frame("sites").set_index("id").loc["mrds:10077593"]
    assert site["name"] == "Iron Mountain Mine" and site["state"] == "CA"
    assert list(site["sources"]) == [
        "mrds",
        "minmod_mrds",
        "mrds_california",
        "usgs_nicrpge",
        "usgs_vms",
        "usmin_mine_features",
    ]
    assert list(site["dep_ids"]) == ["10077593", "10189961", "10216041", "60000273"]
    assert site["n_records"] == 15
    assert site["dev_status"] == "producer"
    assert "Iron Mountain District" in list(site["alt_names"])
    detail = {d["id"]: d for d in json.loads(site["records_detail"])}
    assert detail["minmod_mrds:10189961"]["linked_by"] == ["dep_id", "name_near"]
    assert detail["usmin:5526061-26"]["linked_by"] == ["name_near"]
    assert detail["mrds:10077593"]["source_url"].endswith("dep_id=10077593")


def test_a_site_with_duplicate_dep_ids_and_mine_symbols(real_store: store.Store) -> None:
    """Niagara Group (Shasta County): MRDS records, their MinMod copies, California MRDS
    records and USMIN mine symbols."""
    site = real_store.frame("sites").set_index("id").loc["mrds:10077604"]
    assert site["name"] == "Niagara Group"
    assert list(site["sources"]) == [
        "mrds",
        "minmod_mrds",
        "mrds_california",
        "usmin_mine_features",
    ]
    assert list(site["dep_ids"]) == ["10077604", "10077610", "10140683", "10165229", "10213964"]
    assert {"Summit", "Niagara Summit Mine", "Summit Mine"} <= set(site["alt_names"])
    assert site["dev_status"] == "past_producer" and site["n_records"] == 19
    detail = json.loads(site["records_detail"])
    assert [d["id"] for d in detail] == list(site["records"])


def test_kings_valley_is_found_as_thacker_pass(real_store: store.Store) -> None:
    site = real_store.frame("sites").set_index("id").loc["usgs_lithium:NV00118"]
    assert site["name"] == "Kings Valley"
    assert "Thacker Pass" in list(site["alt_names"])
    assert site["state"] == "NV"


def test_porphyry_inventory_travels_with_its_record(real_store: store.Store) -> None:
    frame = real_store.frame("sites").set_index("id")
    bingham = frame.loc["mrds:10008465"]  # Bingham Canyon, Utah: ten sources
    assert bingham["dev_status"] == "producer" and bingham["state"] == "UT"
    items = json.loads(bingham["inventory"])
    porcu = [i for i in items if i["layer"] == "porphyry_copper"]
    assert porcu and {i["record"] for i in porcu} <= set(bingham["records"])
    assert {i["commodity"] for i in porcu} >= {"copper", "molybdenum"}


def test_record_sites_names_the_one_site_of_every_record(real_store: store.Store) -> None:
    """``record_sites`` reads the sites' ``records`` lists alone (not the whole layer): every
    deposit record of every source is in exactly one site, and Iron Mountain's 15 records,
    its USMIN mine symbol among them, map to ``mrds:10077593``."""
    site_of = store.record_sites(real_store)
    records = real_store.kind_frame(LayerKind.DEPOSITS)
    assert site_of is not None and site_of.index.is_unique
    assert len(site_of) == len(records) and set(site_of.index) == set(records["id"])
    iron_mountain = real_store.frame("sites").set_index("id").loc["mrds:10077593"]
    members = site_of.loc[list(iron_mountain["records"])]
    assert len(members) == 15 and set(members) == {"mrds:10077593"}
    assert site_of["usmin:5526061-26"] == "mrds:10077593"
