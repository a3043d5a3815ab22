"""The local store: one GeoParquet per layer (COG per raster) plus ``manifest.json``.

Builds are atomic. Each build is written into its own directory under ``stores/`` and the
``store`` link is swapped to it only when everything validated, so a failed build leaves
the previous store intact, and a server that opened the previous store keeps reading a
complete directory while the next one is built.

Pruning: a build keeps itself and the previous build and deletes the older ones, except
those a running process holds a ``StoreLease`` on (``Store.lease()``): a server that has
not switched yet, or still answers requests from an old build, keeps reading it. A lease
is a file ``stores/<build>/.in-use-<pid>-<n>`` with a shared ``flock`` on it; the lock,
not the file, is the claim, so a crashed process's leftover file protects nothing and the
next prune removes it. Taking a lease and pruning exclude each other through the lock
file ``stores/.prune.lock``, so a build is never deleted between being chosen and leased.
"""

from __future__ import annotations

import fcntl
import hashlib
import itertools
import json
import os
import shutil
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path

import geopandas as gpd
import pandas as pd
from tqdm import tqdm

from layers import catalog, reference, schema
from layers.catalog import Layer
from layers.errors import DataError, NotFoundError, SourceMissingError, StoreNotBuiltError
from layers.normalize import NORMALIZERS, NormalizeReport
from layers.provision import resolve_source_path
from layers.readers import READERS
from layers.schema import LayerKind

#: Bump when normalization changes, so unchanged sources still trigger a rebuild.
SCHEMA_VERSION = 3
STORE_LINK = "store"
STORES_DIR = "stores"
MANIFEST = "manifest.json"
LEASE_PREFIX = ".in-use-"
PRUNE_LOCK = ".prune.lock"


@dataclass
class BuildResult:
    root: Path
    manifest: dict
    skipped: bool = False
    absent: dict[str, str] = field(default_factory=dict)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _local_file(gdal_path: str) -> Path:
    """The file on disk behind a GDAL path (``/vsizip/archive.zip/member`` -> archive)."""
    if gdal_path.startswith("/vsizip/"):
        archive = gdal_path.removeprefix("/vsizip/")
        return Path(archive[: archive.index(".zip") + 4])
    return Path(gdal_path)


def _source_paths(entry: Layer, raw_dir: Path) -> list[str] | None:
    """GDAL paths of a layer's sources, or None when an optional layer is absent."""
    paths = []
    for source in entry.sources:
        path = resolve_source_path(raw_dir, source)
        if path is None:
            if entry.optional:
                return None
            raise SourceMissingError(
                f"layer {entry.id!r}: source {source.mirror_path} is not in {raw_dir} "
                "(run `fedmin data fetch`)"
            )
        paths.append(path)
    return paths


def build_key(sources: dict[str, dict[str, str]]) -> str:
    """Identity of a build's inputs: source checksums, the catalog, the reference tables
    and the schema version; any change to one of them triggers a rebuild."""
    tables = {p.name: _sha256(p) for p in sorted(reference.REFERENCE_DIR.glob("*.csv"))}
    payload = json.dumps(
        {
            "schema_version": SCHEMA_VERSION,
            "sources": sources,
            "reference": tables,
            "catalog": [repr(entry) for entry in catalog.LAYERS],
        },
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def current_root(data_dir: Path) -> Path | None:
    link = data_dir / STORE_LINK
    return link.resolve() if (link.exists() and (link / MANIFEST).exists()) else None


def _bounds(frame: gpd.GeoDataFrame) -> list[float] | None:
    return [round(float(v), 6) for v in frame.total_bounds] if len(frame) else None


def _fill_admin_areas(deposits: gpd.GeoDataFrame, counties: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Fill missing ``state``/``county`` by a point-in-polygon join with county boundaries."""
    joined = gpd.sjoin(
        deposits[["geometry"]],
        counties[["name", "state", "geometry"]],
        how="left",
        predicate="within",
    )
    joined = joined[~joined.index.duplicated()]
    deposits = deposits.copy()
    deposits["state"] = deposits["state"].fillna(joined["state"])
    deposits["county"] = deposits["county"].fillna(joined["name"])
    return deposits


def _write_raster(entry: Layer, path: str, target: Path) -> dict:
    """Copy a raster into the store as a Cloud-Optimized GeoTIFF."""
    import rasterio
    from rio_cogeo.cogeo import cog_translate
    from rio_cogeo.profiles import cog_profiles

    try:
        with rasterio.open(path) as src:
            if src.crs is None:
                raise DataError(f"{path}: raster has no CRS")
            bounds = rasterio.warp.transform_bounds(src.crs, "EPSG:4326", *src.bounds)
            info = {
                "crs": src.crs.to_string(),
                "width": src.width,
                "height": src.height,
                "nodata": src.nodata,
                "dtype": src.dtypes[0],
            }
            cog_translate(src, str(target), cog_profiles.get("deflate"), quiet=True, in_memory=True)
    except rasterio.errors.RasterioIOError as exc:
        raise DataError(f"{path}: cannot read as a raster: {exc}") from exc
    return {**info, "bounds": [round(b, 6) for b in bounds], "rows": None}


def _build_layer(
    entry: Layer, paths: list[str], built: dict[str, gpd.GeoDataFrame], seen_deposit_ids: set[str]
) -> tuple[gpd.GeoDataFrame, NormalizeReport]:
    report = NormalizeReport()
    reader = READERS[entry.reader]
    frames = [reader(path, source) for path, source in zip(paths, entry.sources, strict=True)]
    frame = NORMALIZERS[entry.normalizer](frames, entry, report)
    empty = frame.geometry.isna() | frame.geometry.is_empty
    report.drop("empty geometry", empty.sum())
    frame = frame.loc[~empty].reset_index(drop=True)
    if entry.kind is LayerKind.DEPOSITS:
        duplicate = frame["id"].isin(seen_deposit_ids)
        report.drop("already in an earlier deposits layer (same MRDS dep_id)", duplicate.sum())
        frame = frame.loc[~duplicate].reset_index(drop=True)
        seen_deposit_ids.update(frame["id"])
        if "counties" in built:
            frame = _fill_admin_areas(frame, built["counties"])
    return schema.validate(frame, entry.kind, entry.id), report


def build(
    raw_dir: Path,
    data_dir: Path,
    *,
    layers: Iterable[Layer] = catalog.LAYERS,
    force: bool = False,
    progress: bool = True,
) -> BuildResult:
    """Read, validate and normalize every source, then swap the new store in atomically."""
    entries = list(layers)
    # Boundaries first: deposits take their state and county from the county layer.
    entries.sort(key=lambda e: e.kind is not LayerKind.BOUNDARIES)
    located: dict[str, list[str]] = {}
    absent: dict[str, str] = {}
    for entry in entries:
        paths = _source_paths(entry, raw_dir)
        if paths is None:
            absent[entry.id] = "optional source not fetched"
        else:
            located[entry.id] = paths
    checksums = {
        layer_id: {p: _sha256(_local_file(p)) for p in paths} for layer_id, paths in located.items()
    }
    key = build_key({k: {Path(p).name: s for p, s in v.items()} for k, v in checksums.items()})
    previous = current_root(data_dir)
    if previous is not None and not force:
        manifest = json.loads((previous / MANIFEST).read_text())
        if manifest.get("build_key") == key:
            return BuildResult(previous, manifest, skipped=True, absent=absent)

    stores = data_dir / STORES_DIR
    stores.mkdir(parents=True, exist_ok=True)
    build_id = _new_build_id(stores, key)
    staging = stores / f".tmp-{build_id}"
    staging.mkdir()
    started = time.perf_counter()
    try:
        manifest_layers: dict[str, dict] = {}
        built: dict[str, gpd.GeoDataFrame] = {}
        seen_deposit_ids: set[str] = set()
        bar = tqdm(entries, desc="building store", unit="layer", disable=not progress)
        for entry in bar:
            if entry.id not in located:
                continue
            bar.set_postfix_str(entry.id)
            paths = located[entry.id]
            record = {
                "kind": entry.kind.value,
                "title": entry.title,
                "publisher": entry.publisher,
                "license": entry.license,
                "caveats": entry.caveats,
                "retrieved": entry.retrieved,
                "sources": [{"path": p, "sha256": checksums[entry.id][p]} for p in paths],
            }
            if entry.kind is LayerKind.RASTER:
                record |= _write_raster(entry, paths[0], staging / f"{entry.id}.tif")
                record["file"] = f"{entry.id}.tif"
            else:
                frame, report = _build_layer(entry, paths, built, seen_deposit_ids)
                built[entry.id] = frame
                frame.to_parquet(
                    staging / f"{entry.id}.parquet",
                    index=False,
                    geometry_encoding="geoarrow",
                    write_covering_bbox=True,
                )
                record |= {
                    "file": f"{entry.id}.parquet",
                    "rows": len(frame),
                    "bounds": _bounds(frame),
                    "repaired_geometries": report.repaired_geometries,
                    "dropped_rows": report.dropped_rows,
                }
                if entry.land_coverage is not None:
                    record["land_coverage"] = {
                        "states": list(entry.land_coverage.states),
                        "complete": entry.land_coverage.complete,
                        "note": entry.land_coverage.note,
                    }
                if entry.kind is LayerKind.INFRASTRUCTURE:
                    record["infrastructure_kind"] = entry.options["kind"]
                    record["coverage_states"] = list(entry.options.get("coverage_states", ()))
            manifest_layers[entry.id] = record
        manifest = {
            "build_id": build_id,
            "build_key": key,
            "schema_version": SCHEMA_VERSION,
            "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "build_seconds": round(time.perf_counter() - started, 2),
            "layers": manifest_layers,
            "absent": absent,
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2))
        final = stores / build_id
        staging.rename(final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _swap_link(data_dir, final)
    _prune(stores, keep={final, previous})
    return BuildResult(final, manifest, absent=absent)


def _new_build_id(stores: Path, key: str) -> str:
    """``<UTC time>-<key[:8]>``; a forced rebuild of the same inputs within the same second
    gets ``<UTC time>.<n>-<key[:8]>`` rather than colliding with the build it replaces."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    build_id, n = f"{stamp}-{key[:8]}", 1
    while (stores / build_id).exists() or (stores / f".tmp-{build_id}").exists():
        n += 1
        build_id = f"{stamp}.{n}-{key[:8]}"
    return build_id


def _swap_link(data_dir: Path, target: Path) -> None:
    """Point ``data_dir/store`` at ``target`` with one atomic rename."""
    link = data_dir / STORE_LINK
    temp = data_dir / f".{STORE_LINK}.{os.getpid()}"
    temp.unlink(missing_ok=True)
    temp.symlink_to(target.relative_to(data_dir))
    os.replace(temp, link)


@contextmanager
def _prune_lock(stores: Path, operation: int) -> Iterator[None]:
    """Exclusive for pruning, shared for taking a lease (released when the file closes)."""
    fd = os.open(stores / PRUNE_LOCK, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        fcntl.flock(fd, operation)
        yield
    finally:
        os.close(fd)


def _in_use(build_dir: Path) -> bool:
    """Whether a live process holds a lease on ``build_dir``; stale lease files are removed."""
    in_use = False
    for lease in build_dir.glob(f"{LEASE_PREFIX}*"):
        try:
            fd = os.open(lease, os.O_RDONLY)
        except FileNotFoundError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            in_use = True
        else:
            lease.unlink(missing_ok=True)  # its holder is gone (crashed or killed)
        finally:
            os.close(fd)
    return in_use


def _prune(stores: Path, keep: set[Path | None]) -> None:
    with _prune_lock(stores, fcntl.LOCK_EX):
        for child in stores.iterdir():
            if (
                child.is_dir()
                and child not in keep
                and not child.name.startswith(".tmp-")
                and not _in_use(child)
            ):
                shutil.rmtree(child, ignore_errors=True)


class StoreLease:
    """A process's claim on a build directory: ``build`` does not prune it while held.

    Taken by ``Store.lease()``; ``release`` (idempotent) drops it. Raises
    ``StoreNotBuiltError`` when the directory is no longer a complete build.
    """

    _serial = itertools.count()
    _serial_lock = threading.Lock()

    def __init__(self, root: Path):
        with StoreLease._serial_lock:
            serial = next(StoreLease._serial)
        self.path = root / f"{LEASE_PREFIX}{os.getpid()}-{serial}"
        with _prune_lock(root.parent, fcntl.LOCK_SH):
            if not (root / MANIFEST).is_file():
                raise StoreNotBuiltError(f"{root} is not a complete store build (pruned?)")
            self._fd: int | None = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o644)
            fcntl.flock(self._fd, fcntl.LOCK_SH)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        self.path.unlink(missing_ok=True)
        os.close(fd)


class Store:
    """A built store, opened read-only. Frames are read once and cached."""

    def __init__(self, root: Path):
        self.root = root
        self.manifest: dict = json.loads((root / MANIFEST).read_text())
        self._frames: dict[str, gpd.GeoDataFrame] = {}

    @property
    def build_id(self) -> str:
        return self.manifest["build_id"]

    def layer_ids(self, kind: LayerKind | None = None) -> list[str]:
        return [
            k for k, v in self.manifest["layers"].items() if kind is None or v["kind"] == kind.value
        ]

    def frame(self, layer_id: str) -> gpd.GeoDataFrame:
        if layer_id not in self._frames:
            record = self.manifest["layers"].get(layer_id)
            if record is None or record["kind"] == LayerKind.RASTER.value:
                raise NotFoundError(f"no vector layer {layer_id!r} in the store")
            self._frames[layer_id] = gpd.read_parquet(self.root / record["file"])
        return self._frames[layer_id]

    def kind_frame(self, kind: LayerKind) -> gpd.GeoDataFrame:
        """All layers of one kind in one frame (their ids are disjoint by construction)."""
        frames = [self.frame(i) for i in self.layer_ids(kind)]
        if not frames:
            columns = [*schema.SCHEMAS[kind].columns, "geometry"]
            return gpd.GeoDataFrame(columns=columns, geometry="geometry", crs=4326)
        return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=4326)

    def lease(self) -> StoreLease:
        """Keep this build from being pruned by later builds until the lease is released."""
        return StoreLease(self.root)

    def raster_path(self, layer_id: str) -> Path:
        record = self.manifest["layers"].get(layer_id)
        if record is None or record["kind"] != LayerKind.RASTER.value:
            raise NotFoundError(f"no raster layer {layer_id!r} in the store")
        return self.root / record["file"]

    @cached_property
    def source_checksums(self) -> dict[str, list[dict[str, str]]]:
        """Per layer, the source files and sha256 a result was computed from."""
        return {k: v["sources"] for k, v in self.manifest["layers"].items()}


def open_store(data_dir: Path) -> Store:
    root = current_root(data_dir)
    if root is None:
        raise StoreNotBuiltError(
            f"no store under {data_dir} (run `fedmin data fetch` then `fedmin data build`)"
        )
    return Store(root)
