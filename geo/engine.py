"""The geoprocessing engine: enriched deposits computed once per store, rankings on demand.

``MemoryEngine`` does everything in one process with pandas/shapely. The dask engine
(``geo.dask_engine``) subclasses it and overrides the seams ``enrich`` and
``aggregate_cells``; everything else (grid, kernel, components, validation) is shared,
so both engines give the same answers.

The expensive joins (land status, nearest infrastructure) run once per store build and
are cached beside the store as ``cache/deposits_enriched-<build_id>-v<N>.parquet``
(written atomically; kept in memory only when the store is read-only).
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import logging
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from geo import scoring
from geo.access import (
    DISTANCE_COLUMNS,
    METRIC_EPSGS,
    InfrastructureIndex,
    coverage_for_store,
    metric_epsg_for_lonlat,
    project_lonlat,
)
from geo.grid import Grid, GridSpec, build_grid, parse_cell_id
from geo.landstatus import LAND_STATUS_COLUMNS, available_land_area, overlay_land_status
from geo.scoring import COMPONENTS, RankParams, RankResult
from geo.validation import holdout_validation
from layers.errors import InvalidParameterError, NotFoundError
from layers.schema import DEV_STATUSES, INFRASTRUCTURE_KINDS, LayerKind

log = logging.getLogger(__name__)

#: Bump when the enrichment changes, so caches written by older code are ignored.
ENRICH_VERSION = 1
CACHE_DIR = "cache"
RANK_CACHE_SIZE = 8
ENGINE_KINDS = ("memory", "dask")

#: Columns ``enrich`` adds to the canonical deposit columns.
ENRICHED_COLUMNS = (*LAND_STATUS_COLUMNS, *DISTANCE_COLUMNS.values(), "metric_epsg", "x_m", "y_m")


@dataclass
class _Scored:
    """A ranking plus what ``cell`` needs to list a cell's contributing deposits."""

    result: RankResult
    evidence: gpd.GeoDataFrame
    pair_cell: np.ndarray
    pair_deposit: np.ndarray
    pair_contribution: np.ndarray
    cell_index: pd.Index


class MemoryEngine:
    """In-process engine over one opened store. Thread-safe for concurrent requests."""

    kind = "memory"

    def __init__(self, store: Any, cache: bool = True):
        self.store = store
        self.cache = cache
        self._lock = threading.RLock()
        self._lands = store.kind_frame(LayerKind.FEDERAL_LANDS)
        self._lands.sindex  # noqa: B018 - build the STRtree once, here
        claims = store.kind_frame(LayerKind.CLAIMS)
        self._active_claims = claims.loc[claims["status"].eq("active").to_numpy()]
        self._active_claims = self._active_claims.reset_index(drop=True)
        self._active_claims.sindex  # noqa: B018
        self._claims_coverage = self._claims_coverage_area()
        self._states = store.frame("states") if "states" in store.layer_ids() else None
        self._notes_always: list[str] = []
        try:
            coverage = coverage_for_store(store)
        except NotFoundError:
            coverage = {k: shapely.Polygon() for k in INFRASTRUCTURE_KINDS}
            self._notes_always.append(
                "the states layer is missing: distances to state-limited infrastructure "
                "layers are unknown"
            )
        self.coverage: dict[str, BaseGeometry | None] = coverage
        self.infrastructure = InfrastructureIndex(
            store.kind_frame(LayerKind.INFRASTRUCTURE), coverage
        )
        self._deposits: gpd.GeoDataFrame | None = None
        self._land_area_cache: dict[tuple[int, str], dict[str, float]] = {}
        self._rank_cache: OrderedDict[str, _Scored] = OrderedDict()

    @classmethod
    def from_store(cls, store: Any, cache: bool = True, **kwargs: Any) -> Self:
        """Open an engine over ``store``; enriched deposits are computed or loaded once."""
        engine = cls(store, cache=cache, **kwargs)
        _ = engine.deposits
        return engine

    def close(self) -> None:
        """Release resources; nothing to release in memory (the dask engine overrides it)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- enriched deposits --------------------------------------------------------------

    @property
    def cache_path(self) -> Path:
        name = f"deposits_enriched-{self.store.build_id}-v{ENRICH_VERSION}.parquet"
        return Path(self.store.root) / CACHE_DIR / name

    @property
    def deposits(self) -> gpd.GeoDataFrame:
        """Canonical deposits plus land status, distances and metric coordinates."""
        with self._lock:
            if self._deposits is None:
                self._deposits = self._load_or_enrich()
            return self._deposits

    def _load_or_enrich(self) -> gpd.GeoDataFrame:
        path = self.cache_path
        if self.cache and path.exists():
            try:
                return _normalize_enriched(gpd.read_parquet(path))
            except Exception as exc:  # a corrupt cache is rebuilt, never trusted
                log.warning("ignoring unreadable cache %s: %s", path, exc)
        enriched = _normalize_enriched(self.enrich(self.store.kind_frame(LayerKind.DEPOSITS)))
        if self.cache:
            self._write_cache(enriched, path)
        return enriched

    @staticmethod
    def _write_cache(frame: gpd.GeoDataFrame, path: Path) -> None:
        """Write atomically (temp file + os.replace); a read-only store is not an error."""
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            path.parent.mkdir(exist_ok=True)
            frame.to_parquet(tmp, index=False)
            os.replace(tmp, path)
        except OSError as exc:
            log.info("enriched deposits kept in memory only (%s)", exc)
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)

    def enrich(self, deposits: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        """Seam: add land status, infrastructure distances and metric coordinates."""
        status = overlay_land_status(deposits, self._lands)
        distances = self.infrastructure.distances(deposits)
        lon, lat = deposits.geometry.x.to_numpy(), deposits.geometry.y.to_numpy()
        epsg = metric_epsg_for_lonlat(lon, lat)
        x = np.full(len(deposits), np.nan)
        y = np.full(len(deposits), np.nan)
        for code in METRIC_EPSGS:
            sel = epsg == code
            if sel.any():
                x[sel], y[sel] = project_lonlat(lon[sel], lat[sel], code)
        out = deposits.copy()
        for column in LAND_STATUS_COLUMNS:
            out[column] = status[column]
        for column in DISTANCE_COLUMNS.values():
            out[column] = distances[column].to_numpy()
        out["metric_epsg"] = epsg
        out["x_m"] = x
        out["y_m"] = y
        return out

    # --- aggregation seam ---------------------------------------------------------------

    def aggregate_cells(self, deposits: pd.DataFrame, grid: Grid) -> pd.DataFrame:
        """Seam: per-cell counts by dev_status and commodity, and evidence sums.

        ``deposits`` are enriched rows with an ``evidence_weight`` column. Returns a frame
        indexed like ``grid.cells`` with ``n_deposits``, ``n_<status>``, ``evidence_sum``
        and ``c_<commodity>`` (deposits naming each commodity); deposits outside every
        cell are ignored.
        """
        pos = grid.locate(
            deposits["x_m"].to_numpy(),
            deposits["y_m"].to_numpy(),
            deposits["metric_epsg"].to_numpy(),
        )
        n = len(grid)
        on = pos >= 0
        out = pd.DataFrame(index=grid.cells.index)
        out["n_deposits"] = np.bincount(pos[on], minlength=n)
        status = deposits["dev_status"].to_numpy(dtype=object)
        for s in DEV_STATUSES:
            hit = on & (status == s)
            out[f"n_{s}"] = np.bincount(pos[hit], minlength=n)
        weights = deposits["evidence_weight"].to_numpy(float)
        out["evidence_sum"] = np.bincount(pos[on], weights=weights[on], minlength=n)
        exploded = deposits["commodities"].reset_index(drop=True).explode()
        owner = exploded.index.to_numpy()
        keep = on[owner] & exploded.notna().to_numpy()
        if keep.any():
            table = pd.crosstab(pos[owner[keep]], exploded.to_numpy(dtype=object)[keep])
            table = table.reindex(range(n), fill_value=0)
            table.index = grid.cells.index
            table.columns = [f"c_{c}" for c in table.columns]
            out = out.join(table)
        return out

    # --- ranking ------------------------------------------------------------------------

    def make_grid(self, evidence: gpd.GeoDataFrame, params: RankParams) -> Grid:
        """The grid over the evidence deposits, clipped to the states layer."""
        return build_grid(
            evidence.geometry.x.to_numpy(),
            evidence.geometry.y.to_numpy(),
            self._states,
            params.spec,
            reach_m=params.reach_m,
            max_cells=params.max_cells,
        )

    def rank(self, params: RankParams | None = None) -> RankResult:
        """Score every cell near the filtered evidence and return the ranking."""
        return self._scored(params or RankParams()).result

    def cell(
        self, cell_id: str, params: RankParams | None = None
    ) -> tuple[pd.Series, gpd.GeoDataFrame]:
        """One cell's scored row (with explanation) and its contributing deposits.

        The cell id fixes the grid (CRS, shape, size), overriding ``params``; a cell not
        in the ranking's grid is a ``NotFoundError``.
        """
        spec, _, _, _ = parse_cell_id(cell_id)
        params = params or RankParams()
        if (spec.cell_km, spec.shape) != (params.cell_km, params.shape):
            params = dataclasses.replace(params, cell_km=spec.cell_km, shape=spec.shape)
        scored = self._scored(params)
        cells = scored.result.all_cells
        if cell_id not in cells.index:
            raise NotFoundError(
                f"no cell {cell_id!r} in the ranking for these parameters (a cell exists only "
                "near deposits matching the filter)"
            )
        row = cells.loc[cell_id].copy()
        row["explanation"] = scoring.explain(row, scored.result.params["weights"])
        pos = scored.cell_index.get_loc(cell_id)
        hit = scored.pair_cell == pos
        contributors = scored.evidence.iloc[scored.pair_deposit[hit]].copy()
        contributors["contribution"] = scored.pair_contribution[hit]
        contributors = contributors.sort_values("contribution", ascending=False)
        return row, contributors

    def _scored(self, params: RankParams) -> _Scored:
        key = params.key()
        with self._lock:
            if key in self._rank_cache:
                self._rank_cache.move_to_end(key)
                return self._rank_cache[key]
        scored = self._score(params)
        with self._lock:
            self._rank_cache[key] = scored
            while len(self._rank_cache) > RANK_CACHE_SIZE:
                self._rank_cache.popitem(last=False)
        return scored

    def _manifest(self) -> dict[str, Any]:
        return {
            "build_id": self.store.build_id,
            "built_at": self.store.manifest.get("built_at"),
            "sources": self.store.source_checksums,
            "absent": self.store.manifest.get("absent", {}),
        }

    def _score(self, params: RankParams) -> _Scored:
        deposits = self.deposits
        selected = deposits.loc[params.filter.mask(deposits)]
        weights = scoring.evidence_weights(selected, params)
        selected = selected.assign(evidence_weight=weights)
        evidence = selected.loc[weights > 0]
        notes = list(self._notes_always)
        notes += [
            f"optional layer {k!r} is absent ({v}); it is not used"
            for k, v in self.store.manifest.get("absent", {}).items()
        ]
        if evidence.empty:
            notes.append("no deposit with mineral evidence matches the filter: nothing to rank")
            empty = _empty_cells()
            result = RankResult(
                cells=empty,
                all_cells=empty,
                params=params.to_dict(),
                manifest=self._manifest(),
                validation={"available": False, "auc": None, "reason": "no evidence"},
                notes=notes,
            )
            return _Scored(
                result, evidence, *(np.zeros(0, dtype=np.int64),) * 2, np.zeros(0), pd.Index([])
            )

        grid = self.make_grid(evidence, params)
        cells = grid.cells
        n = len(cells)
        agg = self.aggregate_cells(selected, grid)

        # Potential: kernel pairs between cell centres and evidence points, per CRS.
        ev_epsg = evidence["metric_epsg"].to_numpy()
        ev_xy = evidence[["x_m", "y_m"]].to_numpy(float)
        cell_xy = cells[["x_m", "y_m"]].to_numpy(float)
        pc, pd_, dist = [], [], []
        for epsg, cpos in grid.positions_by_epsg().items():
            dpos = np.flatnonzero(ev_epsg == epsg)
            a, b, d = scoring.kernel_pairs(cell_xy[cpos], ev_xy[dpos], params.reach_m)
            pc.append(cpos[a])
            pd_.append(dpos[b])
            dist.append(d)
        pair_cell = np.concatenate(pc) if pc else np.zeros(0, dtype=np.int64)
        pair_dep = np.concatenate(pd_) if pd_ else np.zeros(0, dtype=np.int64)
        pair_dist = np.concatenate(dist) if dist else np.zeros(0)
        ev_w = evidence["evidence_weight"].to_numpy(float)
        contribution = ev_w[pair_dep] * scoring.kernel(pair_dist, params.bandwidth_m)
        potential_raw = np.bincount(pair_cell, weights=contribution, minlength=n)
        potential = scoring.normalize_potential(potential_raw)

        # Development: producers and past producers (any commodity) and active claims.
        claims_covered = self._claims_covered(cells["lon"].to_numpy(), cells["lat"].to_numpy())
        development_raw, active_claims = self._development(grid, params)
        developed = evidence["dev_status"].isin(scoring.DEVELOPMENT_STATUSES).to_numpy()
        undeveloped_raw = np.bincount(
            pair_cell, weights=np.where(developed[pair_dep], 0.0, contribution), minlength=n
        )
        underdevelopment = scoring.underdevelopment(potential, undeveloped_raw, development_raw)

        distances = self.infrastructure.distances_lonlat(
            cells["lon"].to_numpy(), cells["lat"].to_numpy(), index=cells.index
        )
        access, _ = scoring.access_component(distances)

        land_area = self._available_area(grid)
        land = np.clip(land_area / cells["area_m2"].to_numpy(float), 0.0, 1.0)

        table = pd.DataFrame(
            {
                "potential": potential,
                "underdevelopment": underdevelopment,
                "access": access,
                "land": land,
            },
            index=cells.index,
        )
        weights_used = params.weights or scoring.DEFAULT_WEIGHTS
        table["score"] = scoring.combine(table, weights_used)
        front_on = [c for c in COMPONENTS if weights_used[c] > 0]
        table["pareto"] = scoring.pareto_front(table[front_on].to_numpy(float))
        table["potential_raw"] = potential_raw
        table["undeveloped_raw"] = undeveloped_raw
        table["development_raw"] = development_raw
        table["claims_covered"] = claims_covered
        table["active_claims"] = active_claims
        for column in DISTANCE_COLUMNS.values():
            table[column] = distances[column].to_numpy()
        top_ids, top_contrib = _top_contributors(
            pair_cell,
            pair_dep,
            contribution,
            evidence["id"].to_numpy(dtype=object),
            n,
            params.top_deposits,
        )
        table["top_deposit_ids"] = top_ids
        table["top_deposit_contributions"] = top_contrib

        commodity_cols = [c for c in agg.columns if c.startswith("c_")]
        base = agg.drop(columns=commodity_cols)
        counts = agg[commodity_cols].to_numpy()
        names = [c[2:] for c in commodity_cols]
        table["commodity_counts"] = (
            [{names[j]: int(row[j]) for j in np.flatnonzero(row)} for row in counts]
            if commodity_cols
            else [{} for _ in range(n)]
        )

        all_cells = cells.drop(columns=["col", "row"]).join(base).join(table)
        all_cells["_nan_last"] = all_cells["score"].isna()
        all_cells = all_cells.sort_values(
            ["_nan_last", "score", "potential", "cell_id"],
            ascending=[True, False, False, True],
            kind="stable",
        ).drop(columns="_nan_last")
        all_cells.insert(0, "rank", np.arange(1, n + 1))
        top = all_cells.head(params.top) if params.top else all_cells
        top = top.copy()
        top["explanation"] = [scoring.explain(r, weights_used) for r in top.to_dict("records")]

        point_cells = grid.locate(ev_xy[:, 0], ev_xy[:, 1], ev_epsg)
        validation = holdout_validation(
            pair_cell,
            pair_dep,
            contribution,
            developed,
            point_cells,
            cells["area_m2"].to_numpy(float),
            n,
        )
        notes += self._notes(all_cells, evidence, point_cells)

        result = RankResult(
            cells=gpd.GeoDataFrame(top, geometry="geometry", crs=4326),
            all_cells=gpd.GeoDataFrame(all_cells, geometry="geometry", crs=4326),
            params=params.to_dict(),
            manifest=self._manifest(),
            validation=validation,
            notes=notes,
        )
        return _Scored(
            result, evidence.reset_index(drop=True), pair_cell, pair_dep, contribution, cells.index
        )

    # --- helpers ------------------------------------------------------------------------

    def _claims_coverage_area(self) -> BaseGeometry | None:
        """Where claims are known: the bounding boxes of the claims layers (manifest)."""
        boxes = [
            shapely.box(*rec["bounds"])
            for rec in self.store.manifest["layers"].values()
            if rec.get("kind") == LayerKind.CLAIMS.value and rec.get("bounds")
        ]
        if not boxes:
            return None
        area = shapely.union_all(boxes)
        shapely.prepare(area)
        return area

    def _claims_covered(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        if self._claims_coverage is None:
            return np.zeros(len(lon), dtype=bool)
        return shapely.intersects_xy(self._claims_coverage, lon, lat)

    def _development(self, grid: Grid, params: RankParams) -> tuple[np.ndarray, np.ndarray]:
        """Kernel-weighted development D per cell, and active claims per cell."""
        deposits = self.deposits
        worked = deposits["dev_status"].isin(scoring.DEVELOPMENT_STATUSES).to_numpy()
        reps = shapely.point_on_surface(self._active_claims.geometry.values)
        c_lon, c_lat = shapely.get_x(reps), shapely.get_y(reps)
        c_epsg = metric_epsg_for_lonlat(c_lon, c_lat)
        n = len(grid)
        development = np.zeros(n)
        claim_counts = np.zeros(n, dtype=np.int64)
        cell_xy = grid.cells[["x_m", "y_m"]].to_numpy(float)
        for epsg, cpos in grid.positions_by_epsg().items():
            sel = worked & (deposits["metric_epsg"].to_numpy() == epsg)
            dep_xy = deposits.loc[sel, ["x_m", "y_m"]].to_numpy(float)
            csel = c_epsg == epsg
            cx, cy = project_lonlat(c_lon[csel], c_lat[csel], epsg)
            points = np.concatenate([dep_xy, np.column_stack([cx, cy])])
            value = np.concatenate(
                [
                    np.full(len(dep_xy), scoring.DEVELOPMENT_DEPOSIT_WEIGHT),
                    np.full(len(cx), scoring.DEVELOPMENT_CLAIM_WEIGHT),
                ]
            )
            a, b, d = scoring.kernel_pairs(cell_xy[cpos], points, params.reach_m)
            development += np.bincount(
                cpos[a], weights=value[b] * scoring.kernel(d, params.bandwidth_m), minlength=n
            )
            located = grid.locate(cx, cy, np.full(len(cx), epsg))
            located = located[located >= 0]
            claim_counts += np.bincount(located, minlength=n)
        return development, claim_counts

    def _available_area(self, grid: Grid) -> np.ndarray:
        """Open, unclaimed federal area per cell (m2), cached per cell across rankings."""
        key = (grid.spec.size_m, grid.spec.shape)
        with self._lock:
            known = self._land_area_cache.setdefault(key, {})
            ids = grid.cells.index
            missing = np.array([i not in known for i in ids], dtype=bool)
        if missing.any():
            out = np.zeros(int(missing.sum()))
            miss_pos = np.flatnonzero(missing)
            epsg = grid.cells["epsg"].to_numpy()[miss_pos]
            lon = grid.cells["lon"].to_numpy()[miss_pos]
            lat = grid.cells["lat"].to_numpy()[miss_pos]
            pad = 1.5 * grid.spec.size_m / 50_000  # degrees: a cell's half-diagonal, generously
            for code in METRIC_EPSGS:
                sel = epsg == code
                if not sel.any():
                    continue
                box = (
                    lon[sel].min() - pad,
                    lat[sel].min() - pad,
                    lon[sel].max() + pad,
                    lat[sel].max() + pad,
                )
                out[sel] = available_land_area(
                    grid.metric_geometry[miss_pos[sel]],
                    code,
                    self._lands,
                    self._active_claims,
                    box,
                    scoring.AVAILABLE_ENTRY,
                )
            with self._lock:
                known.update(zip(ids[miss_pos], out.tolist(), strict=True))
        return np.array([known[i] for i in grid.cells.index], dtype=float)

    def _notes(
        self, cells: pd.DataFrame, evidence: pd.DataFrame, point_cells: np.ndarray
    ) -> list[str]:
        notes: list[str] = []
        uncovered = int((~cells["claims_covered"]).sum())
        if uncovered:
            where = (
                "no claims layer is in the store"
                if self._claims_coverage is None
                else "claims data covers only the bounding box of the claims layers "
                f"{[round(v, 2) for v in self._claims_coverage.bounds]}"
            )
            notes.append(
                f"{uncovered} of {len(cells)} cells lie outside the mining-claims coverage "
                f"({where}): there active claims are unknown and were not counted"
            )
        for kind, column in DISTANCE_COLUMNS.items():
            missing = int(cells[column].isna().sum())
            if missing:
                reason = (
                    "no layer of this kind is in the store"
                    if self.infrastructure.feature_count(kind) == 0
                    else "outside the states its layers cover"
                )
                notes.append(
                    f"{missing} of {len(cells)} cells have no {kind} distance ({reason}); "
                    "their access uses the other kinds"
                )
        off = int((point_cells < 0).sum())
        if off:
            notes.append(
                f"{off} evidence deposits lie in cells with no land in the 1:10m state "
                "outlines (offshore or on the coast); they still add potential to nearby cells"
            )
        notes.append(
            "potential is normalized to the best cell of this ranking "
            "(log(1 + E) / log(1 + max E)); compare scores within one ranking"
        )
        return notes


def _normalize_enriched(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Same dtypes whether computed or read back from parquet (lists, None for null)."""
    frame = frame.copy()
    for column in ("land_unit_ids", "land_unit_names"):
        frame[column] = pd.Series(  # v != v: NaN (pd.isna per value took 4 s at 10^6)
            [[None if v is None or v != v else v for v in x] for x in frame[column]],
            index=frame.index,
            dtype=object,
        )
    for column in ("agency", "designation"):
        values = frame[column].to_numpy(dtype=object, copy=True)
        values[pd.isna(values)] = None
        frame[column] = pd.Series(values, index=frame.index, dtype=object)
    frame["metric_epsg"] = frame["metric_epsg"].astype(np.int64)
    return frame


def _top_contributors(
    cell: np.ndarray,
    dep: np.ndarray,
    contribution: np.ndarray,
    ids: np.ndarray,
    n_cells: int,
    k: int,
) -> tuple[list, list]:
    """Per cell, the ids and contributions of its ``k`` largest contributors."""
    if k == 0 or len(cell) == 0:
        return [[] for _ in range(n_cells)], [[] for _ in range(n_cells)]
    order = np.lexsort((-contribution, cell))
    cell_sorted = cell[order]
    starts = np.searchsorted(cell_sorted, cell_sorted, side="left")
    keep = order[(np.arange(len(order)) - starts) < k]
    bounds = np.searchsorted(cell[keep], np.arange(n_cells + 1))
    id_values = ids[dep[keep]].tolist()
    contrib_values = np.round(contribution[keep], 4).tolist()
    return (
        [id_values[a:b] for a, b in itertools.pairwise(bounds)],
        [contrib_values[a:b] for a, b in itertools.pairwise(bounds)],
    )


def _empty_cells() -> gpd.GeoDataFrame:
    columns = ["rank", "cell_id", "score", *COMPONENTS, "pareto", "top_deposit_ids", "explanation"]
    return gpd.GeoDataFrame(
        {c: pd.Series(dtype=object) for c in columns},
        geometry=gpd.GeoSeries([], crs=4326),
        crs=4326,
    )


def open_engine(
    store: Any, kind: str = "memory", scheduler: Any = None, cache: bool = True
) -> MemoryEngine:
    """The engine named by ``kind``; the dask engine is imported only when asked for."""
    if kind == "memory":
        return MemoryEngine.from_store(store, cache=cache)
    if kind == "dask":
        from geo.dask_engine import DaskEngine

        return DaskEngine.from_store(store, cache=cache, scheduler=scheduler)
    raise InvalidParameterError(f"engine kind: one of {list(ENGINE_KINDS)}, got {kind!r}")


__all__ = [
    "ENRICHED_COLUMNS",
    "GridSpec",
    "MemoryEngine",
    "RankParams",
    "RankResult",
    "open_engine",
]
