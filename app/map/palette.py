"""Every colour of ``/map`` in one place: the page sends this table to ``fedmin.js``, which
styles the layers and draws the legend from it, so the two cannot drift apart.

The design keeps every layer apart, also for readers with a colour-vision deficiency
(``tests/app/test_map_palette.py`` simulates deuteranopia, protanopia and tritanopia and
asserts minimum distances in CAM02-UCS):

- ranked cells: a sequential cividis ramp (dark blue to yellow, made for colour-vision
  deficiencies), Pareto cells outlined in black; no agency, hatching or deposit status
  colour lies near any of its steps;
- federal land: translucent tints by agency (context under the cells), BLM mustard,
  Forest Service green, Park Service purple;
- land-status coverage: a translucent grey veil where status is known only on the mapped
  units (no hue, so it reads as "unknown", not as an agency);
- closed / restricted land: dark brown dense hatching / blue sparse hatching (a pattern
  as well as a colour);
- deposits: small dots by development status (producer dark red, past producer orange,
  prospect violet, occurrence sky blue), ringed dark grey, or thick black when critical;
- the base map: pale land, blue water, grey lines, dark labels with a white halo.
"""

from __future__ import annotations

from typing import Any

#: Federal land by managing agency: (fill, label).
AGENCY: dict[str, tuple[str, str]] = {
    "BLM": ("#ad8d02", "Bureau of Land Management"),
    "USFS": ("#537a5b", "Forest Service"),
    "NPS": ("#68279d", "National Park Service"),
    "FWS": ("#2c98ff", "Fish and Wildlife Service"),
    "DOD": ("#c4442b", "Defense"),
    "BOR": ("#3f5f8c", "Bureau of Reclamation"),
    "other": ("#a099c0", "other federal"),
}
#: Deposits by development status: (dot fill, label).
DEV_STATUS: dict[str, tuple[str, str]] = {
    "producer": ("#7f0000", "producer"),
    "past_producer": ("#e0540b", "past producer"),
    "prospect": ("#a51ce0", "prospect"),
    "occurrence": ("#6cc5f5", "occurrence"),
    "plant": ("#4f7fa0", "plant"),
    "unknown": ("#ffffff", "unknown"),
}
#: Ring of a deposit dot: black for a critical mineral, dark grey otherwise.
DEPOSIT_RING = {"critical": "#000000", "other": "#525252"}
#: Land closed or restricted to mineral entry: (hatch colour, label, SVG pattern id).
ENTRY: dict[str, tuple[str, str, str]] = {
    "closed": ("#6b1a00", "closed (withdrawn): dense hatch", "fedmin-hatch-closed"),
    "restricted": ("#2b8cff", "restricted: sparse hatch", "fedmin-hatch-restricted"),
}
#: Where land status is known only on the mapped units (most of Alaska): a grey veil.
LAND_COVERAGE: dict[str, str] = {"fill": "#7f7f7f", "line": "#5f5f5f"}
#: Lines: (colour, label, dash pattern, width).
LINES: dict[str, tuple[str, str, str | None, float]] = {
    "roads": ("#4d4d4d", "roads (state highways)", None, 1.4),
    "railroads": ("#1a1a1a", "railroads", "6 3", 1.3),
    "transmission_lines": ("#e7298a", "transmission lines", "2 2", 1.2),
}
#: Ranked cells: cividis sampled at six steps (0 -> 1), and the Pareto outline.
CELL_RAMP: tuple[str, ...] = ("#00224e", "#35456c", "#666970", "#948e77", "#c8b866", "#fee838")
PARETO_OUTLINE = "#000000"
CELL_OUTLINE = "#ffffff"
#: The offline base map.
BASEMAP: dict[str, str] = {
    "outside": "#dcdcd6",  # beyond the US states: no base-map data there
    "land": "#f7f5ee",
    "water": "#9ecae1",
    "river": "#6baed6",
    "state_line": "#3d3d3d",
    "county_line": "#9e9e9e",
    "label": "#1f1f1f",
    "label_halo": "#ffffff",
}
#: Data-coverage outlines: (colour, label), one per topic.
COVERAGE: dict[str, tuple[str, str]] = {
    "deposits": ("#2166ac", "full deposit-survey"),
    "claims": ("#b35806", "mining claims"),
    "roads": ("#4d4d4d", "roads"),
    "transmission_lines": ("#e7298a", "power lines"),
    "railroads": ("#1a1a1a", "railroads"),
    "land_status": ("#1b7837", "land status"),
}


def palette() -> dict[str, Any]:
    """The table ``fedmin.js`` reads (``config.palette``); ``order`` keeps the legend's
    row order (the page's JSON sorts object keys)."""
    return {
        "order": {"agency": list(AGENCY), "dev_status": list(DEV_STATUS)},
        "agency": AGENCY,
        "dev_status": DEV_STATUS,
        "deposit_ring": DEPOSIT_RING,
        "entry": ENTRY,
        "land_coverage": LAND_COVERAGE,
        "lines": LINES,
        "ramp": list(CELL_RAMP),
        "pareto": PARETO_OUTLINE,
        "cell_outline": CELL_OUTLINE,
        "basemap": BASEMAP,
        "coverage": COVERAGE,
    }
