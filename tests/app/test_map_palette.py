"""The map's colours stay apart, also for the common colour-vision deficiencies.

Every colour is simulated for deuteranopia, protanopia and tritanopia (Machado, Oliveira
and Fernandes 2009, severity 100, as ``colorspacious`` implements it) and compared in
CAM02-UCS, where a distance (Delta E') of about 1 is just noticeable. The thresholds are
the design's promises: the cells' ramp lies far from every categorical colour it is drawn
over or beside (agencies, hatching, deposit statuses), and the members of each
categorical set are told apart from each other.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from colorspacious import cspace_convert

from app.map import palette

VISION = {
    "normal": None,
    "deuteranopia": {"name": "sRGB1+CVD", "cvd_type": "deuteranomaly", "severity": 100},
    "protanopia": {"name": "sRGB1+CVD", "cvd_type": "protanomaly", "severity": 100},
    "tritanopia": {"name": "sRGB1+CVD", "cvd_type": "tritanomaly", "severity": 100},
}
#: Minimum Delta E' between a ramp step and any categorical colour.
RAMP_VS_CATEGORIES = 10.0
#: Minimum Delta E' between two members of one categorical set.
WITHIN_SET = 10.0
#: Minimum Delta E' between neighbouring ramp steps (the ramp is readable as steps).
RAMP_STEP = 8.0


def _rgb(hex_colour: str) -> np.ndarray:
    value = hex_colour.lstrip("#")
    return np.array([int(value[i : i + 2], 16) / 255 for i in (0, 2, 4)])


def _ucs(colours: list[str], vision: str) -> np.ndarray:
    rgb = np.array([_rgb(c) for c in colours])
    if VISION[vision] is not None:
        rgb = np.clip(cspace_convert(rgb, VISION[vision], "sRGB1"), 0, 1)
    return cspace_convert(rgb, "sRGB1", "CAM02-UCS")


def _distances(a: list[str], b: list[str], vision: str) -> np.ndarray:
    ua, ub = _ucs(a, vision), _ucs(b, vision)
    return np.linalg.norm(ua[:, None, :] - ub[None, :, :], axis=-1)


CATEGORIES = {
    "agency": [c for c, _ in palette.AGENCY.values()],
    "dev_status": [c for c, _ in palette.DEV_STATUS.values()],
    "entry": [c for c, _, _ in palette.ENTRY.values()],
}


def test_simulation_is_real() -> None:
    """Red and green, far apart normally, nearly merge for a deuteranope (the simulation
    does something: a test that could not fail would prove nothing)."""
    normal = _distances(["#d62728"], ["#2ca02c"], "normal")[0, 0]
    deutan = _distances(["#d62728"], ["#2ca02c"], "deuteranopia")[0, 0]
    assert normal > 30 and deutan < normal / 2


@pytest.mark.parametrize("vision", list(VISION))
def test_cell_ramp_shares_no_colour_with_the_categories(vision: str) -> None:
    for name, colours in CATEGORIES.items():
        d = _distances(list(palette.CELL_RAMP), colours, vision)
        worst = np.unravel_index(d.argmin(), d.shape)
        assert d.min() >= RAMP_VS_CATEGORIES, (
            f"{vision}: ramp step {palette.CELL_RAMP[worst[0]]} vs {name} "
            f"{colours[worst[1]]}: {d.min():.1f}"
        )


@pytest.mark.parametrize("vision", list(VISION))
def test_members_of_each_set_are_told_apart(vision: str) -> None:
    for name, colours in CATEGORIES.items():
        for a, b in itertools.combinations(colours, 2):
            d = _distances([a], [b], vision)[0, 0]
            assert d >= WITHIN_SET, f"{vision}: {name} {a} vs {b}: {d:.1f}"


@pytest.mark.parametrize("vision", list(VISION))
def test_ramp_is_ordered_and_stepped(vision: str) -> None:
    """Lightness rises monotonically along the ramp (readable as more/less for everyone)
    and neighbouring steps are clearly different."""
    ucs = _ucs(list(palette.CELL_RAMP), vision)
    assert (np.diff(ucs[:, 0]) > 0).all()
    steps = np.linalg.norm(np.diff(ucs, axis=0), axis=1)
    assert steps.min() >= RAMP_STEP, steps


def test_pareto_outline_stands_out_on_every_step() -> None:
    for vision in VISION:
        d = _distances([palette.PARETO_OUTLINE], list(palette.CELL_RAMP), vision)
        # Black on the darkest step is separated by the white cell outline drawn beside it;
        # on every other step the outline is far from the fill.
        assert np.sort(d[0])[1] >= RAMP_VS_CATEGORIES, (vision, d)


def test_page_gets_the_same_table() -> None:
    table = palette.palette()
    assert table["ramp"] == list(palette.CELL_RAMP)
    assert table["agency"]["BLM"] == palette.AGENCY["BLM"]
    assert set(table["order"]["dev_status"]) == set(palette.DEV_STATUS)
