"""The critical-mineral lists (``layers.critical``): sizes, members, citations, and how
their entries map onto fedmin's commodity names; and the stored ``critical`` flag."""

from __future__ import annotations

import csv

import numpy as np
import pandas as pd
import pytest

from layers import critical, reference
from layers.errors import InvalidParameterError, UnknownCriticalListError
from layers.schema import LayerKind
from layers.store import Store, deposit_sites

ADDED_2025 = {
    "boron",
    "copper",
    "lead",
    "metallurgical_coal",
    "phosphate",
    "potash",
    "rhenium",
    "silicon",
    "silver",
    "uranium",
}


def _table(name: str) -> list[dict[str, str]]:
    with (reference.REFERENCE_DIR / name).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_list_sizes_and_the_named_additions() -> None:
    usgs2022 = critical.list_members("usgs2022")
    usgs2025 = critical.list_members("usgs2025")
    eo = critical.list_members("eo14241")
    assert (len(usgs2022), len(usgs2025), len(eo)) == (50, 60, 61)
    assert usgs2025 - usgs2022 == ADDED_2025
    assert usgs2022 <= usgs2025  # all 50 of 2022 kept (arsenic and tellurium too)
    assert {"arsenic", "tellurium"} <= usgs2025
    assert eo - usgs2025 == {"gold"}  # EO 14241: the list in force + U, Cu, potash, Au
    assert {"uranium", "copper", "potash", "gold"} <= eo
    assert "gold" not in usgs2025 and "osmium" not in usgs2025
    assert critical.DEFAULT_CRITICAL_LIST == "usgs2025"
    assert [
        row["name"] for row in _table("critical_minerals_2025.csv") if row["listed_since"] == "2025"
    ] == sorted(ADDED_2025)


def test_every_entry_maps_to_a_commodity_name_fedmin_knows() -> None:
    """Each list name is one fedmin's normalization produces (codes, aliases or the table
    of names without a code), not a name only the lists use."""
    known = reference.known_commodities()
    for list_id in critical.CRITICAL_LIST_IDS:
        for name in critical.list_members(list_id):
            assert name in known, (list_id, name)
            assert reference.commodity_from_name(name) == name
    # the Federal Register's wording normalizes onto the list's names
    for wording, name in [
        ("Rare earths", "rare_earth_elements"),
        ("Platinum group metals", "platinum_group_elements"),
        ("Potassium", "potash"),
        ("Boron-Borates", "boron"),
        ("Fluorine-Fluorite", "fluorspar"),
        ("Barium-Barite", "barite"),
        ("Metallurgical coal", "metallurgical_coal"),
    ]:
        assert reference.commodity_from_name(wording) == name
    assert reference.commodity_from_code("RE") == "rhenium"
    assert reference.commodity_from_code("TE") == "tellurium"


def test_groups_make_the_aggregates_critical() -> None:
    ree = {
        r["name"]
        for r in _table("critical_minerals_2022.csv")
        if r["group"] == "rare_earth_elements"
    }
    pgm = {
        r["name"]
        for r in _table("critical_minerals_2022.csv")
        if r["group"] == "platinum_group_elements"
    }
    assert len(ree) == 15 and {"neodymium", "yttrium"} <= ree and "scandium" not in ree
    assert pgm == {"iridium", "palladium", "platinum", "rhodium", "ruthenium"}
    for list_id in critical.CRITICAL_LIST_IDS:
        names = critical.critical_names(list_id)
        assert {"rare_earth_elements", "platinum_group_elements"} <= names
        assert "coal" not in names and "silica" not in names and "osmium" not in names


def test_critical_mask_per_list() -> None:
    # synthetic commodity lists (named as such), one per case
    commodities = pd.Series(
        [["copper"], ["uranium"], ["potash"], ["gold"], ["gold", "tungsten"], [], ["REE"]]
    ).map(lambda cs: [reference.commodity_from_name(c) for c in cs])
    assert critical.critical_mask(commodities, "usgs2025").tolist() == [1, 1, 1, 0, 1, 0, 1]
    assert critical.critical_mask(commodities, "usgs2022").tolist() == [0, 0, 0, 0, 1, 0, 1]
    assert critical.critical_mask(commodities, "eo14241").tolist() == [1, 1, 1, 1, 1, 0, 1]


def test_unknown_list_is_a_parameter_error_naming_the_ids() -> None:
    with pytest.raises(UnknownCriticalListError, match=r"usgs2025.*usgs2022.*eo14241"):
        critical.critical_list_spec("usgs2018")
    assert issubclass(UnknownCriticalListError, InvalidParameterError)
    info = critical.critical_list_info("eo14241")
    assert info["minerals"] == 61 and "14241" in info["citation"] and not info["default"]


def test_every_list_table_has_a_citation_file() -> None:
    for spec in critical.CRITICAL_LISTS:
        text = (reference.REFERENCE_DIR / spec.table).with_suffix(".md").read_text()
        assert spec.id in text and ("Federal Register" in text or " FR " in text)


def test_stored_critical_flag_is_the_2025_list(real_store: Store) -> None:
    for frame in (real_store.kind_frame(LayerKind.DEPOSITS), deposit_sites(real_store)):
        flags = critical.critical_mask(frame["commodities"], "usgs2025")
        assert np.array_equal(frame["critical"].to_numpy(), flags)
    records = real_store.kind_frame(LayerKind.DEPOSITS).set_index("id")
    # a uranium-only record (NV tungsten file) and a copper-only MRDS record now count
    assert list(records.loc["mrds_tungsten:10037703", "commodities"]) == ["uranium"]
    assert records.loc["mrds_tungsten:10037703", "critical"]
    assert list(records.loc["mrds:10214130", "commodities"]) == ["copper"]
    assert records.loc["mrds:10214130", "critical"]
    porphyry = records.loc[records["source"].eq("porphyry_copper").to_numpy()]
    assert len(porphyry) == 100 and porphyry["critical"].all()
