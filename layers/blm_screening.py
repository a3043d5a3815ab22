"""BLM land reads as open only where the data maps BLM's withdrawn designations.

BLM public domain is open to location unless withdrawn, and the largest withdrawals on it
are BLM's national monuments and national conservation areas (Ironwood Forest, Grand
Staircase-Escalante, Baaj Nwaavjo I'tah Kukveni, Berryessa Snow Mountain, ...). The
surface-agency layers (the coarse National Atlas polygons, BLM SMA) carry no unit names,
so they cannot tell a monument from open land: called ``open`` everywhere, a copper cell
inside Ironwood Forest ranked among Arizona's best open ground.

So a land layer declares in the catalog whether it maps those designations in its states
(``LandCoverage.blm_designations``); the build cuts every ``blm_public_land`` polygon at
the boundary of the states so mapped. Inside, the land keeps its rule (open unless a
mapped unit over it says otherwise); outside, the part becomes ``blm_public_land_unscreened``,
whose status is ``unknown`` with the reason. Done once per store build, so the point
overlay, the cells' land shares and the federal-lands collection all agree.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers import land_rules
from layers.normalize import polygonal_part

SCREENED = "blm_public_land"
UNSCREENED = "blm_public_land_unscreened"
#: Suffix of the id of a polygon's part outside the screened states.
UNSCREENED_ID_SUFFIX = ":unscreened"


def screened_area(states: gpd.GeoDataFrame, screened_states: set[str]) -> shapely.Geometry:
    """Lon/lat union of the states where BLM's monuments and NCAs are mapped."""
    chosen = states.loc[states["state"].isin(screened_states)]
    if not len(chosen):
        return shapely.Polygon()
    return shapely.make_valid(shapely.union_all(chosen.geometry.to_numpy()))


def screen_blm_land(frame: gpd.GeoDataFrame, area: shapely.Geometry) -> gpd.GeoDataFrame:
    """``frame`` (normalized land units) with its BLM public-domain polygons cut at
    ``area``: the parts outside become ``blm_public_land_unscreened`` rows (status
    ``unknown``, id suffixed ``:unscreened``); units of other designations are untouched."""
    blm = frame["designation"].eq(SCREENED).to_numpy()
    if not blm.any():
        return frame
    geoms = frame.geometry.to_numpy()[blm]
    if area.is_empty:
        inside = np.array([shapely.Polygon()] * len(geoms), dtype=object)
        outside = geoms
    else:
        shapely.prepare(area)
        touches = shapely.intersects(area, geoms)
        within = np.zeros(len(geoms), dtype=bool)
        within[touches] = shapely.covered_by(geoms[touches], area)
        inside = np.where(touches, geoms, shapely.Polygon())
        outside = np.where(touches, shapely.Polygon(), geoms)
        cut = touches & ~within
        inside[cut] = [polygonal_part(g) for g in shapely.intersection(geoms[cut], area)]
        outside[cut] = [polygonal_part(g) for g in shapely.difference(geoms[cut], area)]
    kept = frame.loc[~blm]
    opened = frame.loc[blm].assign(geometry=inside)
    unscreened = frame.loc[blm].assign(
        geometry=outside,
        id=frame.loc[blm, "id"] + UNSCREENED_ID_SUFFIX,
        designation=UNSCREENED,
        mineral_entry=land_rules.mineral_entry(UNSCREENED),
    )
    parts = [p.loc[~p.geometry.is_empty] for p in (opened, unscreened)]
    out = pd.concat([kept, *parts], ignore_index=True)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=frame.crs)
