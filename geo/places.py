"""Cells named by place: state, county, the land units a cell overlaps, the nearest named
populated place, so a ranked cell reads like "Trinity County, CA, Shasta-Trinity National
Forest (82 %), 14 km NE of Weaverville".

Everything here depends only on the cell (its geometry and centre), never on weights or
the filter: the engine caches it per cell with the land shares (``geo.engine``).

* state and county: the Census county whose polygon holds the cell centre (for a centre
  off the 1:10m outline, on the coast, the nearest county);
* land units: every unit of the land layers the cell overlaps, with the share of the
  cell's land it *governs* (its overlap minus the parts of units of higher precedence,
  ``geo.landstatus``), largest first, so the governing unit comes first;
* nearest place: the nearest Natural Earth populated place (base-map layer
  ``populated_places``), its distance (km, on the metric CRS of the cell) and the compass
  bearing from the place to the cell centre (WGS84 ellipsoid).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Geod

from geo.access import project_lonlat
from geo.landstatus import (
    DESIGNATION_PRECEDENCE,
    STATUS_PRECEDENCE,
    LandPieces,
    inside_parts,
)
from layers import land_rules

#: The columns ``name_cells`` adds, and the label a shortlist reads first.
PLACE_COLUMNS: tuple[str, ...] = (
    "state",
    "county",
    "land_units",
    "nearest_place",
    "nearest_place_km",
    "nearest_place_bearing",
)
COMPASS = ("N", "NE", "E", "SE", "S", "SW", "W", "NW")
#: Units governing less than this share of a cell's land are not listed.
MIN_UNIT_SHARE = 0.005
_GEOD = Geod(ellps="WGS84")


def compass(bearing_deg: np.ndarray) -> np.ndarray:
    """Eight-point compass direction of each bearing (degrees clockwise from north)."""
    sector = np.floor(((np.asarray(bearing_deg, float) % 360.0) + 22.5) / 45.0).astype(int) % 8
    return np.array(COMPASS, dtype=object)[sector]


def unit_label(name: Any, designation: Any, agency: Any) -> str:
    """A unit's name, or for unnamed units (coarse, geometry-only layers) what it is."""
    if isinstance(name, str) and name:
        return name
    what = land_rules.designation_label(designation)
    return f"{what} ({agency})" if agency and agency != "other" else what


@dataclass
class PlaceIndex:
    """Counties and populated places, indexed once per engine."""

    counties: gpd.GeoDataFrame | None
    places: gpd.GeoDataFrame | None

    @classmethod
    def for_store(cls, store: Any) -> PlaceIndex:
        ids = store.layer_ids()
        counties = store.frame("counties") if "counties" in ids else None
        places = None
        if "populated_places" in ids:
            frame = store.frame("populated_places")
            places = frame.loc[frame["name"].notna().to_numpy()].reset_index(drop=True)
        return cls(counties, places)

    def admin(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(state, county) of each point; None where no county layer is in the store."""
        n = len(lon)
        state = np.full(n, None, dtype=object)
        county = np.full(n, None, dtype=object)
        if self.counties is None or n == 0 or len(self.counties) == 0:
            return state, county
        points = shapely.points(lon, lat)
        tree = self.counties.sindex
        point_pos, county_pos = tree.query(points, predicate="within")
        first = np.full(n, -1, dtype=np.int64)
        first[point_pos[::-1]] = county_pos[::-1]  # the first hit per point
        off = np.flatnonzero(first < 0)
        if len(off):
            _, nearest = tree.nearest(points[off], return_all=False)
            first[off] = nearest
        state[:] = self.counties["state"].to_numpy(dtype=object)[first]
        county[:] = self.counties["name"].to_numpy(dtype=object)[first]
        return state, county

    def nearest(
        self, lon: np.ndarray, lat: np.ndarray, epsg: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Nearest place name, distance (km) and compass bearing from it, per point."""
        n = len(lon)
        names = np.full(n, None, dtype=object)
        km = np.full(n, np.nan)
        bearing = np.full(n, None, dtype=object)
        if self.places is None or len(self.places) == 0 or n == 0:
            return names, km, bearing
        plon = self.places.geometry.x.to_numpy()
        plat = self.places.geometry.y.to_numpy()
        for code in np.unique(epsg):
            sel = np.flatnonzero(epsg == code)
            px, py = project_lonlat(plon, plat, int(code))
            ok = np.isfinite(px) & np.isfinite(py)
            tree = shapely.STRtree(shapely.points(px[ok], py[ok]))
            cx, cy = project_lonlat(lon[sel], lat[sel], int(code))
            (inputs, hit), _ = tree.query_nearest(
                shapely.points(cx, cy), return_distance=True, all_matches=False
            )
            place = np.flatnonzero(ok)[hit]
            names[sel[inputs]] = self.places["name"].to_numpy(dtype=object)[place]
            azimuth, _, metres = _GEOD.inv(
                plon[place], plat[place], lon[sel[inputs]], lat[sel[inputs]]
            )
            # on the ellipsoid: the metric CRS only finds the nearest place (off its area,
            # in Guam say, its distances are thousands of km off)
            km[sel[inputs]] = np.round(np.asarray(metres) / 1000.0, 1)
            bearing[sel[inputs]] = compass(azimuth)
        return names, km, bearing


def governed_units(
    cells: np.ndarray, cut: LandPieces, lands: gpd.GeoDataFrame
) -> list[list[dict[str, Any]]]:
    """Per metric cell, the land units it overlaps with the share of its land each governs
    (precedence applied: a wilderness inside a forest takes its part from the forest),
    largest first; units under ``MIN_UNIT_SHARE`` are left out."""
    n = len(cells)
    out: list[list[dict[str, Any]]] = [[] for _ in range(n)]
    if n == 0 or len(lands) == 0:
        return out
    pieces, unit_pos = cut.pieces, cut.rows
    if len(pieces) == 0:
        return out
    cell_pos, piece_pos = shapely.STRtree(pieces).query(cells, predicate="intersects")
    parts = inside_parts(cells[cell_pos], pieces[piece_pos])
    units = unit_pos[piece_pos]
    keep = shapely.area(parts) > 0
    cell_pos, units, parts = cell_pos[keep], units[keep], parts[keep]
    status = {v: i for i, v in enumerate(STATUS_PRECEDENCE)}
    specific = {v: i for i, v in enumerate(DESIGNATION_PRECEDENCE)}
    rank = np.array(
        [
            (status.get(e, len(status)), specific.get(d, len(specific)))
            for e, d in zip(lands["mineral_entry"], lands["designation"], strict=True)
        ]
    ).reshape(-1, 2)
    order = np.lexsort((units, rank[units, 1], rank[units, 0], cell_pos))
    cell_pos, units, parts = cell_pos[order], units[order], parts[order]
    governed = shapely.area(parts)
    # Only cells with more than one unit need the precedence overlay (most have one).
    starts = np.flatnonzero(np.r_[True, cell_pos[1:] != cell_pos[:-1]])
    stops = np.r_[starts[1:], len(cell_pos)]
    for a, b in zip(starts.tolist(), stops.tolist(), strict=True):
        if b - a > 1 and len(set(units[a:b].tolist())) > 1:
            taken = parts[a]
            for k in range(a + 1, b):
                governed[k] = shapely.area(shapely.difference(parts[k], taken))
                taken = shapely.union(taken, parts[k])
    area = np.maximum(shapely.area(cells), 1e-9)
    frame = pd.DataFrame({"cell": cell_pos, "unit": units, "area": governed})
    summed = frame.groupby(["cell", "unit"], sort=False)["area"].sum().reset_index()
    summed["share"] = summed["area"].to_numpy() / area[summed["cell"].to_numpy()]
    summed = summed.loc[summed["share"] >= MIN_UNIT_SHARE]
    summed = summed.sort_values(["cell", "share"], ascending=[True, False], kind="stable")
    ids = lands["id"].to_numpy(dtype=object)
    entries = lands["mineral_entry"].to_numpy(dtype=object)
    labels = np.array(
        [
            unit_label(*row)
            for row in zip(lands["name"], lands["designation"], lands["agency"], strict=True)
        ],
        dtype=object,
    )
    for cell, unit, share in zip(
        summed["cell"].tolist(), summed["unit"].tolist(), summed["share"].tolist(), strict=True
    ):
        out[cell].append(
            {
                "id": ids[unit],
                "name": labels[unit],
                "mineral_entry": entries[unit],
                "share": round(share, 3),
            }
        )
    return out


#: A place farther than this does not help to find a cell (Guam's nearest Natural Earth
#: place in the base map is on the Aleutians); the label leaves it out.
MAX_LABEL_PLACE_KM = 250.0


def place_labels(cells: pd.DataFrame) -> list[str]:
    """One line per cell naming it: county and state, main land unit (its share), the
    nearest place, then the best named deposit. Column by column (a record dict per row
    took seconds at 10^4 cells)."""
    columns = (
        "county",
        "state",
        "land_units",
        "nearest_place",
        "nearest_place_km",
        "nearest_place_bearing",
        "best_deposit_name",
    )
    return [_label(*row) for row in zip(*(cells[c].tolist() for c in columns), strict=True)]


def _label(
    county: Any,
    state: Any,
    units: Any,
    place: Any,
    km: Any,
    bearing: Any,
    deposit: Any,
) -> str:
    bits = []
    if _named(county):
        bits.append(f"{county} County, {state}")
    if units:
        bits.append(f"{units[0]['name']} ({100 * units[0]['share']:.0f} %)")
    if _named(place):
        near = km is None or not np.isfinite(km) or km < 1
        if near:
            bits.append(f"at {place}")
        elif km <= MAX_LABEL_PLACE_KM:
            bits.append(f"{km:.0f} km {bearing} of {place}")
    text = ", ".join(bits)
    return f"{text}: {deposit}" if _named(deposit) else text


def _named(value: Any) -> bool:
    """A name, not None or the NaN a pandas string column holds for a missing one."""
    return isinstance(value, str) and bool(value)
