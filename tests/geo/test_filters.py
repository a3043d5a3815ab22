"""The shared deposit filter: validation errors and masks on the real deposits."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import numpy as np
import pytest

from geo.filters import FIELD_DESCRIPTIONS, DepositFilter, parse_bbox
from layers.errors import InvalidParameterError, UnknownCommodityError


def test_every_field_has_a_description() -> None:
    names = {f.name for f in fields(DepositFilter)}
    assert names == set(FIELD_DESCRIPTIONS)
    assert all(f.metadata["description"] for f in fields(DepositFilter))


@pytest.mark.parametrize(
    "bbox",
    [
        "1,2,3",
        "a,b,c,d",
        [0, 5, 1, 0],
        [10, 5, 5, 1],
        [-200, 0, 0, 1],
        [0, -95, 1, 1],
        [0, 0, float("inf"), 1],
    ],
)
def test_bad_bbox_is_rejected(bbox: Any) -> None:
    """(minx > maxx is a box across the antimeridian, see test_http_rules.py.)"""
    with pytest.raises(InvalidParameterError):
        DepositFilter(bbox=bbox)


def test_bbox_parses_strings_and_sequences() -> None:
    assert parse_bbox("-124,40,-123,41") == (-124.0, 40.0, -123.0, 41.0)
    assert DepositFilter(bbox=[-124, 40, -123, 41]).bbox == (-124.0, 40.0, -123.0, 41.0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"dev_status": "mined_out"},
        {"agency": "NASA"},
        {"mineral_entry": "maybe"},
        {"state": "California"},
        {"critical": "yes"},
        {"commodities": [1]},
    ],
)
def test_bad_values_are_rejected(kwargs: dict) -> None:
    with pytest.raises(InvalidParameterError):
        DepositFilter(**kwargs)


def test_unknown_commodity_is_a_commodity_error() -> None:
    with pytest.raises(UnknownCommodityError):
        DepositFilter(commodities="unobtainium")


def test_normalization_makes_equal_filters_equal() -> None:
    a = DepositFilter(commodities="AU, CR", dev_status="Producer", agency="usfs", state="ca")
    b = DepositFilter(
        commodities=("AU", "CR"), dev_status=["producer"], agency=["USFS"], state=["CA"]
    )
    assert a == b and hash(a) == hash(b)
    assert a.commodity_names == frozenset({"gold", "chromium"})
    assert DepositFilter().is_empty and not a.is_empty


def test_masks_on_real_deposits(enriched: Any) -> None:
    everything = DepositFilter().mask(enriched)
    assert everything.all() and everything.dtype == bool
    gold = DepositFilter(commodities="gold").mask(enriched)
    assert gold.sum() == enriched["commodities"].map(lambda c: "gold" in list(c)).sum()
    code = DepositFilter(commodities="AU").mask(enriched)
    assert np.array_equal(gold, code)
    critical = DepositFilter(critical=True).mask(enriched)
    assert np.array_equal(critical, enriched["critical"].to_numpy())
    crit_names = DepositFilter(commodities="critical").mask(enriched)
    assert crit_names.sum() > 0 and (enriched.loc[crit_names, "critical"]).all()
    box = (-123.5, 40.5, -123.0, 41.0)
    inside = DepositFilter(bbox=box).mask(enriched)
    x, y = enriched.geometry.x, enriched.geometry.y
    assert np.array_equal(
        inside, (x.between(box[0], box[2]) & y.between(box[1], box[3])).to_numpy()
    )
    closed_nps = DepositFilter(agency="NPS", mineral_entry="closed").mask(enriched)
    assert closed_nps.sum() > 0
    assert set(enriched.loc[closed_nps, "agency"]) == {"NPS"}
    off = DepositFilter(mineral_entry="non_federal", state="CA").mask(enriched)
    assert enriched.loc[off, "agency"].isna().all()
    combined = DepositFilter(commodities="gold", dev_status="producer", state="CA")
    sel = enriched.loc[combined.mask(enriched)]
    assert len(sel) > 0 and set(sel["dev_status"]) == {"producer"}


def test_land_fields_need_the_enriched_frame(geo_store: Any) -> None:
    from layers.schema import LayerKind

    raw = geo_store.kind_frame(LayerKind.DEPOSITS)
    with pytest.raises(InvalidParameterError):
        DepositFilter(agency="BLM").mask(raw)
    assert DepositFilter(state="NV").mask(raw).sum() > 0
