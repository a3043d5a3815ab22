"""Normalizers: map each source, as its reader returns it, onto the canonical schema.

One function per source shape, registered by name in ``NORMALIZERS`` and chosen by the
layer's catalog entry, which also holds the column mapping and options each one uses.
Values a source lacks stay null (never guessed); the catalog's caveats say so.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import shapely

from layers import critical, land_rules, minmod, reference
from layers.antimeridian import lonlat_from_metric
from layers.catalog import MRDS_REPORT_URL, Layer
from layers.errors import SchemaError

MRDS_DEV_STATUS = {
    "producer": "producer",
    "past producer": "past_producer",
    "prospect": "prospect",
    "occurrence": "occurrence",
    "plant": "plant",
    "unknown": "unknown",
    "": "unknown",
}

#: USMIN topographic mine-feature types -> dev_status. A mine symbol on a topographic map
#: records a worked mine; a prospect pit records exploration; an adit or shaft alone does
#: not tell whether anything was produced.
USMIN_FEATURE_STATUS = {
    "prospect pit": "prospect",
    "mine": "past_producer",
    "open pit mine": "past_producer",
    "open pit mine or quarry": "past_producer",
    "placer mine": "past_producer",
    "hydraulic mine": "past_producer",
    "strip mine": "past_producer",
    "coal mine": "past_producer",
    "quarry": "past_producer",
    "quarry - rock": "past_producer",
}

CLAIM_TYPES = {"lode": "lode", "placer": "placer", "mill": "mill_site", "tunnel": "tunnel_site"}


@dataclass
class NormalizeReport:
    """What normalization changed, so ``fedmin data build`` can say it."""

    repaired_geometries: int = 0
    dropped_rows: dict[str, int] = field(default_factory=dict)
    #: Other counts worth reporting (records merged, names not resolved, ...).
    counts: dict[str, int] = field(default_factory=dict)
    #: The sites layer's link report (``layers/sites.py``), None for other layers.
    link_report: dict | None = None

    def drop(self, reason: str, count: int) -> None:
        if count:
            self.dropped_rows[reason] = self.dropped_rows.get(reason, 0) + int(count)

    def count(self, what: str, count: int) -> None:
        if count:
            self.counts[what] = self.counts.get(what, 0) + int(count)


Normalizer = Callable[[list[pd.DataFrame], Layer, NormalizeReport], gpd.GeoDataFrame]


def _unique_ids(prefix: str, values: Iterable[object]) -> list[str]:
    """``prefix:value`` ids, suffixed ``-2``, ``-3`` where a source repeats a value."""
    seen: dict[str, int] = {}
    ids = []
    for value in values:
        base = f"{prefix}:{value}"
        seen[base] = seen.get(base, 0) + 1
        ids.append(base if seen[base] == 1 else f"{base}-{seen[base]}")
    return ids


def _points(frame: pd.DataFrame, lon: str, lat: str, path: str) -> gpd.GeoSeries:
    """Point geometry from lon/lat text columns; an unparseable row is a ``SchemaError``."""
    x = pd.to_numeric(frame[lon].replace("", np.nan), errors="coerce")
    y = pd.to_numeric(frame[lat].replace("", np.nan), errors="coerce")
    bad = (x.isna() & frame[lon].ne("")) | (y.isna() & frame[lat].ne(""))
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise SchemaError(
            f"{path}: row {row + 2} has unparseable coordinates "
            f"{lon}={frame[lon].iloc[row]!r}, {lat}={frame[lat].iloc[row]!r}"
        )
    return gpd.GeoSeries(gpd.points_from_xy(x, y), index=frame.index, crs=4326)


def _require(frame: pd.DataFrame, columns: Iterable[str], layer: Layer) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise SchemaError(
            f"{layer.primary.mirror_path}: missing columns {missing} "
            f"(has {list(frame.columns)[:12]})"
        )


#: Keys of one ``inventory`` item (the ``inventory`` column is a JSON list of them).
INVENTORY_KEYS = ("commodity", "ore_tonnes", "grade", "grade_unit", "category", "source")


def inventory_json(items: Iterable[dict[str, object]]) -> str | None:
    """The ``inventory`` column value: a JSON list of grade/tonnage items, None when empty.

    Each item has exactly ``INVENTORY_KEYS``; absent values are null, never guessed.
    """
    rows = [{key: item.get(key) for key in INVENTORY_KEYS} for item in items]
    return json.dumps(rows) if rows else None


def _deposits_frame(
    data: dict[str, object], geometry: gpd.GeoSeries, report: NormalizeReport
) -> gpd.GeoDataFrame:
    frame = gpd.GeoDataFrame(data, geometry=geometry.to_numpy(), crs=4326)
    frame["critical"] = critical.critical_mask(frame["commodities"])
    frame["primary_commodity"] = frame["commodities"].map(lambda c: c[0] if len(c) else None)
    for column in ("state", "county", "source_url", "dep_id", "deposit_type", "inventory"):
        if column not in frame:
            frame[column] = None
    for column in ("minmod_ids", "alt_names"):
        if column not in frame:
            frame[column] = [[] for _ in range(len(frame))]
    empty = frame.geometry.is_empty | frame.geometry.isna()
    report.drop("no location", empty.sum())
    return frame.loc[~empty].reset_index(drop=True)


def normalize_mrds(frames: list[pd.DataFrame], layer: Layer, report: NormalizeReport):
    (raw,) = frames
    _require(
        raw, ("dep_id", "name", "dev_stat", "url", "code_list", "longitude", "latitude"), layer
    )
    codes = raw["code_list"].str.split()
    commodities = codes.map(
        lambda cs: list(dict.fromkeys(reference.commodity_from_code(c) for c in cs))
    )
    unknown_status = sorted(set(raw["dev_stat"].str.lower()) - set(MRDS_DEV_STATUS))
    if unknown_status:
        raise SchemaError(f"{layer.primary.mirror_path}: unknown dev_stat values {unknown_status}")
    data = {
        "id": [f"mrds:{d}" for d in raw["dep_id"]],
        "name": raw["name"].replace("", None),
        "source": layer.id,
        "source_id": raw["dep_id"],
        "source_url": raw["url"].replace("", None),
        "commodities": commodities,
        "dev_status": raw["dev_stat"].str.lower().map(MRDS_DEV_STATUS),
        "details": [json.dumps({"mrds_codes": cs}) for cs in codes],
        "dep_id": raw["dep_id"],
    }
    return _deposits_frame(
        data, _points(raw, "longitude", "latitude", layer.primary.mirror_path), report
    )


def normalize_usmin_features(frames, layer, report):
    (raw,) = frames
    _require(raw, ("FTR_TYPE", "FTR_NAME", "GDA_ID", "STATE", "COUNTY"), layer)
    excluded = raw["FTR_TYPE"].isin(layer.options["excluded_feature_types"])
    report.drop("construction pits (borrow, gravel, sand)", excluded.sum())
    raw = raw.loc[~excluded]
    data = {
        "id": _unique_ids("usmin", raw["GDA_ID"]),
        "name": raw["FTR_NAME"].replace("", None).to_numpy(),
        "source": layer.id,
        "source_id": raw["GDA_ID"].astype(str).to_numpy(),
        "commodities": [[] for _ in range(len(raw))],
        "dev_status": raw["FTR_TYPE"].str.lower().map(USMIN_FEATURE_STATUS).fillna("unknown"),
        "state": raw["STATE"].to_numpy(),
        "county": raw["COUNTY"].to_numpy(),
        "details": [
            json.dumps({"feature_type": t, "topo_map": m, "topo_date": int(d)})
            for t, m, d in zip(raw["FTR_TYPE"], raw["TOPO_NAME"], raw["TOPO_DATE"], strict=True)
        ],
    }
    data["dev_status"] = data["dev_status"].to_numpy()
    return _deposits_frame(data, raw.geometry, report)


def _split_names(text: str, separator: str) -> list[str]:
    names = (reference.commodity_from_name(p) for p in text.split(separator) if p.strip())
    return list(dict.fromkeys(names))


def _other_names(text: str) -> list[str]:
    """``Other_Name`` of the USMIN schema: names separated by ``;`` (``<Null>`` for none)."""
    names = (n.strip() for n in text.split(";"))
    return list(dict.fromkeys(n for n in names if n and n != "<Null>"))


def normalize_usgs_lithium(frames, layer, report):
    sites, production = frames
    site_id = "Site_ID *"
    _require(sites, (site_id, "Site_Name", "Commodity", "Approx_Lon", "Approx_Lat"), layer)
    produced = set(production.get(site_id, pd.Series(dtype=str)))
    data = {
        "id": [f"usgs_lithium:{s}" for s in sites[site_id]],
        "name": sites["Site_Name"],
        "source": layer.id,
        "source_id": sites[site_id],
        "source_url": "https://doi.org/10.5066/P9ZKRWQF",
        "commodities": sites["Commodity"].map(lambda t: _split_names(t, ";")),
        "dev_status": sites[site_id].map(lambda s: "past_producer" if s in produced else "unknown"),
        "details": [
            json.dumps({"other_names": o, "last_update": u})
            for o, u in zip(sites["Other_Name"], sites["Last_Updt"], strict=True)
        ],
        "alt_names": sites["Other_Name"].map(_other_names),
    }
    return _deposits_frame(
        data, _points(sites, "Approx_Lon", "Approx_Lat", layer.primary.mirror_path), report
    )


def normalize_mrds_tungsten(frames, layer, report):
    (raw,) = frames
    _require(raw, ("record_id", "site_name", "state_or_province", "location", "commodity"), layer)
    try:
        geometry = gpd.GeoSeries.from_wkt(raw["location"], crs=4326)
    except shapely.errors.GEOSException as exc:
        raise SchemaError(f"{layer.primary.mirror_path}: unparseable WKT location: {exc}") from exc
    states = reference.state_postal_by_name()
    data = {
        "id": [f"mrds_tungsten:{r}" for r in raw["record_id"]],
        "name": raw["site_name"].replace("", None),
        "source": layer.id,
        "source_id": raw["record_id"],
        "source_url": [MRDS_REPORT_URL.format(r) for r in raw["record_id"]],
        "commodities": raw["commodity"].map(lambda t: _split_names(t, ",")),
        "dev_status": "unknown",
        "state": raw["state_or_province"].str.lower().map(states),
        "details": [json.dumps({"deposit_type_inferred": t}) for t in raw["deposit_type"]],
        "dep_id": raw["record_id"],
        # The first of the machine-inferred candidates (comma-separated, best first).
        "deposit_type": raw["deposit_type"].str.split(",").str[0].str.strip().replace("", None),
    }
    return _deposits_frame(data, geometry, report)


def normalize_porphyry_copper(frames, layer, report):
    (raw,) = frames
    _require(
        raw,
        (
            "DepositID",
            "NameDeposit",
            "Country",
            "StateProvince",
            "LongitudeDecimal",
            "LatitudeDecimal",
            "Tonnage",
            "Copper grade",
        ),
        layer,
    )
    us = raw["Country"].eq("United States")
    report.drop("outside the United States", (~us).sum())
    raw = raw.loc[us].reset_index(drop=True)
    grades = {
        name: pd.to_numeric(raw[f"{label} grade"], errors="coerce").fillna(0)
        for name, label in (
            ("copper", "Copper"),
            ("molybdenum", "Molybdenum"),
            ("gold", "Gold"),
            ("silver", "Silver"),
        )
    }
    commodities = [
        ["copper", *[n for n in ("molybdenum", "gold", "silver") if grades[n].iloc[i] > 0]]
        for i in range(len(raw))
    ]
    states = reference.state_postal_by_name()
    data = {
        "id": [f"porcu:{d}" for d in raw["DepositID"]],
        "name": raw["NameDeposit"].str.split().str.join(" "),
        "source": layer.id,
        "source_id": raw["DepositID"],
        "source_url": "https://pubs.usgs.gov/of/2008/1155/",
        "commodities": commodities,
        "dev_status": "unknown",
        "state": raw["StateProvince"].str.lower().map(states),
        "details": [
            json.dumps(
                {
                    "tonnage_mt": t or None,
                    "cu_pct": cu,
                    "mo_pct": mo,
                    "au_gt": au,
                    "ag_gt": ag,
                    "subtype": s,
                }
            )
            for t, cu, mo, au, ag, s in zip(
                raw["Tonnage"],
                grades["copper"],
                grades["molybdenum"],
                grades["gold"],
                grades["silver"],
                raw["Subtype"],
                strict=True,
            )
        ],
        "deposit_type": "porphyry copper",
        "inventory": [
            _porphyry_inventory(pd.to_numeric(t, errors="coerce"), grades, i, layer.id)
            for i, t in enumerate(raw["Tonnage"])
        ],
    }
    return _deposits_frame(
        data, _points(raw, "LongitudeDecimal", "LatitudeDecimal", layer.primary.mirror_path), report
    )


#: Porphyry copper grade columns: commodity -> unit of its grade (Singer and others 2008).
PORPHYRY_GRADE_UNITS = {
    "copper": "percent",
    "molybdenum": "percent",
    "gold": "gram per tonne",
    "silver": "gram per tonne",
}


def _porphyry_inventory(
    tonnage_mt: float, grades: dict[str, pd.Series], row: int, source: str
) -> str | None:
    """Tonnage (Mt) and each reported grade (0 = not reported) as ``inventory`` items."""
    ore = float(tonnage_mt) * 1e6 if pd.notna(tonnage_mt) and tonnage_mt > 0 else None
    items = [
        {
            "commodity": name,
            "ore_tonnes": ore,
            "grade": float(grades[name].iloc[row]),
            "grade_unit": unit,
            "category": "OriginalResource",  # pre-mining resource + production
            "source": source,
        }
        for name, unit in PORPHYRY_GRADE_UNITS.items()
        if grades[name].iloc[row] > 0
    ]
    return inventory_json(items)


def _polygonal(geometry: gpd.GeoSeries, report: NormalizeReport) -> gpd.GeoSeries:
    """Repair invalid polygons with ``make_valid`` and keep only their polygonal part."""
    invalid = ~geometry.is_valid
    report.repaired_geometries += int(invalid.sum())
    values = geometry.to_numpy().copy()
    fixed = shapely.make_valid(values[invalid.to_numpy()])
    values[invalid.to_numpy()] = [
        polygonal_part(g) if g.geom_type == "GeometryCollection" else g for g in fixed
    ]
    return gpd.GeoSeries(_without_empty_parts(values), index=geometry.index, crs=geometry.crs)


def polygonal_part(geometry: shapely.Geometry) -> shapely.Geometry:
    """The union of a geometry's polygons (repairs and overlays leave lines and points)."""
    parts = [p for p in shapely.get_parts(geometry) if p.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def _without_empty_parts(values: np.ndarray) -> np.ndarray:
    """Drop empty members of multi-part geometries (GEOS crashes reading some back)."""
    parts, owner = shapely.get_parts(values, return_index=True)
    empty_owners = np.unique(owner[shapely.is_empty(parts)])
    for i in empty_owners:
        kept = [p for p in shapely.get_parts(values[i]) if not p.is_empty]
        values[i] = shapely.multipolygons(kept) if kept else shapely.Polygon()
    return values


def normalize_lands(frames, layer, report):
    (raw,) = frames
    columns, options = layer.columns, layer.options
    raw = raw.reset_index(drop=True)
    if options.get("drop_qc_flagged"):
        flagged = raw["qc_flag"].fillna("").str.startswith("suspect")
        report.drop("flagged artifacts (qc_flag)", flagged.sum())
        raw = raw.loc[~flagged]
    if "drop_agencies" in options:
        dropped = raw["agency"].isin(options["drop_agencies"])
        report.drop(
            f"agencies {options['drop_agencies']} superseded by a finer layer", dropped.sum()
        )
        raw = raw.loc[~dropped]
    if options.get("federal_only"):
        federal = raw["MANTYPE"].eq("FED")
        report.drop("not federally managed", (~federal).sum())
        raw = raw.loc[federal]
    raw = raw.reset_index(drop=True)
    # The official national schema and the mirror's extract may differ: a mapped column the
    # file lacks (the mirror's attribute-less BLM WSAs) is null, not an error.
    names = (
        raw[columns["name"]]
        if columns.get("name") in raw.columns
        else pd.Series(None, index=raw.index)
    )
    if layer.id == "federal_lands_coarse":
        pairs = raw["agency"].map(
            lambda a: land_rules.COARSE_AGENCY.get(a, ("other", "other_federal"))
        )
        agency, designation = pairs.str[0], pairs.str[1]
    elif options.get("cec_alaska"):
        pairs = raw[columns["designation"]].fillna("").map(land_rules.cec_alaska)
        agency, designation = pairs.str[0], pairs.str[1]
    else:
        agency = (
            raw[columns["agency"]].map(land_rules.canonical_agency)
            if "agency" in columns
            else pd.Series(options.get("agency"), index=raw.index)
        )
        if "designation" in options:
            designation = pd.Series(options["designation"], index=raw.index)
        else:
            text = raw[columns.get("designation", columns.get("name"))].fillna("")
            defaults = agency.map(land_rules.AGENCY_DEFAULT_DESIGNATION).fillna("other_federal")
            if layer.id == "nps_units":  # Natural Earth's NPS layer: the larger parks
                defaults = pd.Series("national_park", index=raw.index)
            designation = pd.Series(
                [
                    land_rules.designation_from_text(t, d)
                    for t, d in zip(text, defaults, strict=True)
                ],
                index=raw.index,
            )
    source_ids = raw[columns["source_id"]] if "source_id" in columns else raw.index
    frame = gpd.GeoDataFrame(
        {
            "id": _unique_ids(layer.id, source_ids),
            "name": names.replace("", None),
            "source": layer.id,
            "agency": agency.to_numpy(),
            "designation": designation.to_numpy(),
            "mineral_entry": designation.map(land_rules.mineral_entry).to_numpy(),
        },
        geometry=_polygonal(_lonlat(raw.geometry), report).to_numpy(),
        crs=4326,
    )
    return frame


def _lonlat(geometry: gpd.GeoSeries) -> gpd.GeoSeries:
    """Polygons in lon/lat; a projected source (Alaska Albers) is cut along the
    antimeridian where it crosses it, never wrapped round the globe."""
    epsg = geometry.crs.to_epsg() if geometry.crs is not None else 4326
    if epsg == 4326:
        return geometry
    values = lonlat_from_metric(geometry.to_numpy(), epsg)
    # Parts that touched in the metric CRS can overlap slightly once reprojected. The
    # "structure" repair keeps each ring's interior and takes seconds where the default
    # "linework" one took 40 s on the Tongass National Forest (110k vertices).
    invalid = ~shapely.is_valid(values)
    values[invalid] = shapely.make_valid(values[invalid], method="structure", keep_collapsed=False)
    return gpd.GeoSeries(values, index=geometry.index, crs=4326)


def normalize_claims(frames, layer, report):
    parts = []
    for raw in frames:
        _require(raw, layer.columns.values(), layer)
        parts.append(raw)
    raw = pd.concat(parts, ignore_index=True)
    duplicated = raw["CSE_NR"].duplicated()
    report.drop("claims listed twice", duplicated.sum())
    raw = raw.loc[~duplicated].reset_index(drop=True)
    kind = (
        raw["BLM_PROD"]
        .fillna("")
        .str.lower()
        .map(lambda t: next((v for k, v in CLAIM_TYPES.items() if k in t), "unknown"))
    )
    return gpd.GeoDataFrame(
        {
            "id": raw["CSE_NR"],
            "name": raw["CSE_NAME"],
            "source": layer.id,
            "claim_type": kind,
            "status": np.where(raw["CSE_DISP"].str.lower().eq("closed"), "closed", "active"),
            "acres": pd.to_numeric(raw["RCRD_ACRS"], errors="coerce"),
        },
        geometry=_polygonal(gpd.GeoSeries(raw.geometry, crs=4326), report).to_numpy(),
        crs=4326,
    )


def normalize_infrastructure(frames, layer, report):
    (raw,) = frames
    options, columns = layer.options, layer.columns
    if "country_column" in options:
        inside = raw[options["country_column"]].eq(options["country"])
        report.drop(f"outside {options['country']}", (~inside).sum())
        raw = raw.loc[inside]
    if "keep_values" in options:  # e.g. HIFLD lines in service, not proposed
        column, kept = options["keep_values"]
        keep = raw[column].isin(kept)
        report.drop(f"{column} not one of {kept}", (~keep).sum())
        raw = raw.loc[keep]
    raw = raw.reset_index(drop=True)
    if layer.id == "ca_state_highways":
        name = "Route " + raw["Route"].astype(str) + " " + raw["Direction"].astype(str)
    elif "name" in columns:
        name = raw[columns["name"]]
    else:
        name = pd.Series(None, index=raw.index)
    if "class" in options:
        road_class = pd.Series(options["class"], index=raw.index)
    elif "class" in columns:
        road_class = raw[columns["class"]].astype(str)
    else:
        road_class = pd.Series(None, index=raw.index)
    geometry = raw.geometry.to_numpy()
    invalid = ~shapely.is_valid(geometry)
    report.repaired_geometries += int(invalid.sum())
    geometry[invalid] = shapely.make_valid(geometry[invalid])
    return gpd.GeoDataFrame(
        {
            "id": [f"{layer.id}:{i}" for i in range(len(raw))],
            "kind": options["kind"],
            "name": name.replace("", None).to_numpy(),
            "class": road_class.to_numpy(),
            "source": layer.id,
        },
        geometry=shapely.line_merge(geometry),
        crs=4326,
    )


def normalize_boundaries(frames, layer, report):
    (raw,) = frames
    _require(raw, ("id", "name"), layer)
    fips = raw["id"].astype(str)
    postal = reference.state_postal_by_fips()
    return gpd.GeoDataFrame(
        {
            "id": fips,
            "name": raw["name"],
            "level": layer.options["level"],
            "state": fips.str[:2].map(postal),
        },
        geometry=_polygonal(raw.geometry, report).to_numpy(),
        crs=4326,
    )


def _clip_to_boxes(
    geometry: np.ndarray, boxes: Iterable[tuple[float, float, float, float]]
) -> np.ndarray:
    """Each geometry cut to the first (disjoint) lon/lat box it meets; empty outside all."""
    out = np.full(len(geometry), shapely.Point(), dtype=object)
    todo = np.ones(len(geometry), dtype=bool)
    for box in boxes:
        hit = todo & shapely.intersects(geometry, shapely.box(*box))
        out[hit] = shapely.clip_by_rect(geometry[hit], *box)
        todo &= ~hit
    return out


def _lines_only(values: np.ndarray) -> np.ndarray:
    """The linear parts of clipped lines (a clip can leave points where a line touches)."""
    out = values.copy()
    for i in np.flatnonzero(shapely.get_type_id(values) == 7):  # GeometryCollection
        lines = [p for p in shapely.get_parts(values[i]) if p.geom_type == "LineString"]
        out[i] = shapely.multilinestrings(lines) if lines else shapely.LineString()
    return out


def normalize_basemap(frames, layer, report):
    """Natural Earth places, rivers and lakes: US rows (by country or clipped to the US
    boxes), the publisher's class and suggested ``min_zoom`` kept for the map."""
    (raw,) = frames
    columns, options = layer.columns, layer.options
    _require(raw, columns.values(), layer)
    if "country_column" in options:
        inside = raw[options["country_column"]].eq(options["country"])
        report.drop(f"outside {options['country']}", (~inside).sum())
        raw = raw.loc[inside]
    raw = raw.reset_index(drop=True)
    geometry = raw.geometry.to_numpy()
    if "clip_boxes" in options:
        geometry = _clip_to_boxes(geometry, options["clip_boxes"])
        if options["feature"] == "lake":
            geometry = _polygonal(gpd.GeoSeries(geometry, crs=4326), report).to_numpy()
        else:
            geometry = _lines_only(geometry)
        outside = shapely.is_empty(geometry)
        report.drop("outside the US boxes", outside.sum())
        raw, geometry = raw.loc[~outside].reset_index(drop=True), geometry[~outside]
    names = raw[columns["name"]].replace("", None)
    if "state" in columns:
        postal = reference.state_postal_by_name()
        state = raw[columns["state"]].str.lower().map(postal)
        ids = _unique_ids(layer.id, state.fillna("") + ":" + names.fillna(""))
    else:
        state = pd.Series(None, index=raw.index, dtype=object)
        ids = [f"{layer.id}:{i}" for i in range(len(raw))]
    population = (
        pd.to_numeric(raw[columns["population"]], errors="coerce")
        if "population" in columns
        else pd.Series(np.nan, index=raw.index)
    )
    return gpd.GeoDataFrame(
        {
            "id": ids,
            "name": names.to_numpy(),
            "source": layer.id,
            "feature": options["feature"],
            "category": raw[columns["category"]].to_numpy(),
            "state": state.to_numpy(),
            "population": population.to_numpy(dtype=float),
            "min_zoom": pd.to_numeric(raw[columns["min_zoom"]], errors="coerce").to_numpy(),
        },
        geometry=geometry,
        crs=4326,
    )


#: MinMod ``site_type`` -> dev_status. "Mine" (NC, mining reports) is a worked mine, as
#: a mine symbol is for USMIN; a status with a question mark stays unknown.
MINMOD_SITE_TYPES = {
    "producer": "producer",
    "active": "producer",
    "past producer": "past_producer",
    "mine": "past_producer",
    "mines": "past_producer",
    "inactive": "past_producer",
    "abandoned": "past_producer",
    "prospect": "prospect",
    "prospects": "prospect",
    "mine and prospect": "prospect",
    "prospect; mine": "prospect",
    "occurrence": "occurrence",
    "occurrences": "occurrence",
    "occurence": "occurrence",
    "deposit": "occurrence",
    "plant": "plant",
}

#: How MinMod's sources spell the United States (``location_info.country``).
US_COUNTRY_NAMES = frozenset(
    {"united states", "usa", "u.s.a.", "united states of america", "us", "u.s."}
)

#: MinMod unit ids of ore tonnage -> factor to tonnes; others (none stated) stay null.
MINMOD_TONNES = {"Q200": 1.0, "Q202": 1e6}
#: MinMod unit ids of grades -> unit name (``entities/unit.csv``).
MINMOD_GRADE_UNITS = {
    "Q201": "percent",
    "Q203": "gram per tonne",
    "Q204": "copper equivalence percent",
    "Q205": "lead equivalence percent",
    "Q206": "dollar per tonne",
    "Q207": "zinc equivalence percent",
    "Q208": "gold equivalence gram per tonne",
}


def _minmod_commodities(
    observed: list, qids: list, layer: Layer, unresolved: set[str], memo: dict
) -> list[str]:
    names: list[str] = []
    minerals = bool(layer.options.get("mineral_lists"))
    for name, qid in zip(observed, qids, strict=True):
        if (name, qid) not in memo:
            memo[(name, qid)] = reference.minmod_commodity(layer.id, name, qid, minerals=minerals)
        found = memo[(name, qid)]
        if found is None:
            unresolved.add(str(name))
            continue
        names.extend(found)
    return list(dict.fromkeys(names))


def _minmod_inventory(items: list[dict], layer: Layer) -> str | None:
    out = []
    for item in items:
        found = reference.minmod_commodity(
            layer.id, item["commodity_observed"], item["commodity_qid"]
        )
        factor = MINMOD_TONNES.get(item["ore_unit"] or "")
        out.append(
            {
                "commodity": found[0] if found else item["commodity_observed"],
                "ore_tonnes": item["ore"] * factor if item["ore"] is not None and factor else None,
                "grade": item["grade"],
                "grade_unit": MINMOD_GRADE_UNITS.get(item["grade_unit"] or ""),
                "category": item["category"],
                "source": layer.id,
            }
        )
    return inventory_json(out)


def _minmod_names(
    records: pd.DataFrame, separator: str | None
) -> tuple[list[str | None], list[list[str]]]:
    """Name and alternate names; sources that list several names in one field (ARDF
    ``Red Dog; Qanaiyaq; Hilltop``) give the first as the name, the rest as aliases."""
    names, aliases = [], []
    for name, more in zip(records["name"].tolist(), records["aliases"].tolist(), strict=True):
        parts = [p.strip() for p in name.split(separator)] if name and separator else [name]
        parts = [p for p in parts if p]
        first = parts[0] if parts else None
        names.append(first)
        aliases.append([a for a in dict.fromkeys([*parts[1:], *more]) if a != first])
    return names, aliases


def normalize_minmod(frames, layer, report):
    """MinMod records of every creator and snapshot -> one row per source record."""
    parts = []
    for order, raw in enumerate(frames):
        lon, lat, has = minmod.to_lonlat(raw["location"], raw["crs"])
        parts.append(
            raw.drop(columns=["location"]).assign(
                lon=lon, lat=lat, _stated=np.where(has, 1.0, np.nan), _order=order
            )
        )
    records, merged = minmod.merge_records(pd.concat(parts, ignore_index=True))
    report.count("records merged (same source record from several creators or snapshots)", merged)
    located = records["lon"].notna()
    report.drop(
        "invalid coordinates (null, unparseable or out of range)",
        (~located & records["_stated"].notna()).sum(),
    )
    report.drop("no location", (~located & records["_stated"].isna()).sum())
    records = records.loc[located].reset_index(drop=True)
    unresolved: set[str] = set()
    memo: dict[tuple[str | None, str | None], tuple[str, ...] | None] = {}
    commodities = [
        _minmod_commodities(o, q, layer, unresolved, memo)
        for o, q in zip(
            records["commodity_observed"].tolist(), records["commodity_qid"].tolist(), strict=True
        )
    ]
    report.count("commodity names not resolved (kept in details)", len(unresolved))
    names, aliases = _minmod_names(records, layer.options.get("name_separator"))
    site_type = records["site_type"].fillna("").str.strip().str.lower()
    template = layer.record_url
    record_ids = records["record_id"].tolist()
    data = {
        "id": [f"{layer.id}:{r}" for r in record_ids],
        "name": names,
        "source": layer.id,
        "source_id": records["record_id"],
        "source_url": [
            template.format(record_id=r) if template else (s if s.startswith("http") else None)
            for r, s in zip(record_ids, records["source_id"].tolist(), strict=True)
        ],
        "commodities": commodities,
        "dev_status": site_type.map(MINMOD_SITE_TYPES).fillna("unknown").to_numpy(),
        "details": [
            orjson.dumps(
                {
                    "site_type": t,
                    "site_rank": k,
                    "commodities_observed": o,
                    "country_observed": c,
                    "state_observed": st,
                    "crs_observed": crs,
                    "created_by": sorted({i.rsplit("__", 1)[-1] for i in ids}),
                    "modified_at": m,
                }
            ).decode()
            for t, k, o, c, st, crs, ids, m in zip(
                *(
                    records[c].tolist()
                    for c in (
                        "site_type",
                        "site_rank",
                        "commodity_observed",
                        "country",
                        "state_observed",
                        "crs",
                        "minmod_id",
                        "modified_at",
                    )
                ),
                strict=True,
            )
        ],
        "dep_id": records["record_id"] if layer.options.get("dep_id_from_record") else None,
        "minmod_ids": records["minmod_id"],
        "alt_names": aliases,
        "deposit_type": records["deposit_type"],
        "inventory": [_minmod_inventory(items, layer) for items in records["inventory"].tolist()],
    }
    # The record's own country, only as a hint for points just off the 1:10m coastline.
    data["country_us"] = records["country"].fillna("").str.lower().isin(US_COUNTRY_NAMES)
    geometry = gpd.GeoSeries(gpd.points_from_xy(records["lon"], records["lat"]), crs=4326)
    return _deposits_frame(data, geometry, report)


NORMALIZERS: dict[str, Normalizer] = {
    "minmod": normalize_minmod,
    "mrds": normalize_mrds,
    "usmin_features": normalize_usmin_features,
    "usgs_lithium": normalize_usgs_lithium,
    "mrds_tungsten": normalize_mrds_tungsten,
    "porphyry_copper": normalize_porphyry_copper,
    "lands": normalize_lands,
    "claims": normalize_claims,
    "infrastructure": normalize_infrastructure,
    "boundaries": normalize_boundaries,
    "basemap": normalize_basemap,
}
