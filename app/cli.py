"""The ``fedmin`` command line: provision and build data, serve the API, rank areas."""

from __future__ import annotations

import os
import sys
import time
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from tqdm import tqdm

from app.collections import default_rank_params
from app.settings import Settings, get_settings, parse_overrides
from geo.engine import MemoryEngine, open_engine
from geo.filters import DepositFilter
from geo.scoring import (
    DEFAULT_MIN_OPEN_LAND,
    DEFAULT_MIN_UNDEVELOPED_SHARE,
    RankParams,
    RankResult,
)
from layers import catalog, provision, store
from layers.critical import CRITICAL_LIST_IDS, DEFAULT_CRITICAL_LIST, critical_list_info
from layers.errors import FedminError
from layers.sources import status as sources_status
from layers.sources.areas import Area
from layers.sources.http import Policy

cli = typer.Typer(help="fedmin: mineral deposits on US federal lands.", no_args_is_help=True)
data_cli = typer.Typer(
    help="Provision the sources and build the local store.", no_args_is_help=True
)
cli.add_typer(data_cli, name="data")


class EngineKind(StrEnum):
    memory = "memory"
    dask = "dask"


MirrorOption = Annotated[
    Path | None,
    typer.Option(
        help="Local mirror of the sources; default FEDMIN_DATA_MIRROR, else the official URLs.",
        exists=True,
        file_okay=False,
    ),
]


def _fail(exc: FedminError) -> None:
    typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=2) from exc


@data_cli.command("fetch")
def data_fetch(
    mirror: MirrorOption = None,
    states: Annotated[
        str | None,
        typer.Option(help="Fetch these states from the official sources, e.g. NV,AZ."),
    ] = None,
    bbox: Annotated[
        str | None,
        typer.Option(help="Fetch this lon/lat box from the official sources: minx,miny,maxx,maxy."),
    ] = None,
    layers: Annotated[
        str | None, typer.Option(help="Only these layers (comma-separated ids).")
    ] = None,
    source: Annotated[
        list[str] | None,
        typer.Option(
            help="LAYER=URL: fetch LAYER from another endpoint of the same protocol "
            "(repeatable; adds to FEDMIN_SOURCE_OVERRIDES)."
        ),
    ] = None,
    refresh: Annotated[
        bool, typer.Option(help="Fetch again even if an earlier official fetch verifies.")
    ] = False,
    quiet: Annotated[bool, typer.Option(help="No progress bars.")] = False,
) -> None:
    """Copy (from a mirror) or fetch (official sources) every catalog source into data/raw.

    With --states or --bbox, every layer with a per-area official source (ArcGIS REST
    services, per-state files) is fetched from it for that area; the others keep their
    default. fetch.json and the store manifest record area, source, query, time and sha256.
    """
    settings = get_settings()
    try:
        area = Area.parse(states, bbox)
        overrides = dict(settings.source_overrides)
        for pair in source or []:
            overrides |= parse_overrides(pair, "--source")
        entries = _select_layers(layers)
        policy = Policy(
            timeout=settings.fetch_timeout_s,
            retries=settings.fetch_retries,
            backoff=settings.fetch_backoff_s,
            max_backoff=settings.fetch_max_backoff_s,
            interval=settings.fetch_request_interval_s,
        )
        report = provision.fetch(
            entries,
            settings.raw_dir,
            mirror or settings.data_mirror,
            progress=not quiet,
            download=not settings.offline,
            area=area,
            overrides=overrides,
            policy=policy,
            page_size=settings.arcgis_page_size,
            refresh=refresh,
            whole=[entry.id for entry in entries] if layers else (),
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    except FedminError as exc:
        _fail(exc)
    typer.echo(report.summary())


def _select_layers(text: str | None) -> list[catalog.Layer]:
    if not text:
        return list(catalog.LAYERS)
    return [catalog.layer(name.strip()) for name in text.split(",") if name.strip()]


@data_cli.command("status")
def data_status(
    layers: Annotated[
        str | None, typer.Option(help="Only these layers (comma-separated ids).")
    ] = None,
) -> None:
    """Per layer: its vintage and source, and (online) whether the source changed since.

    Checks with a HEAD (files: ETag, Last-Modified, length) or a count query (ArcGIS
    layers: the feature count and lastEditDate); nothing is downloaded.
    """
    settings = get_settings()
    try:
        entries = _select_layers(layers)
        policy = Policy(
            timeout=settings.fetch_timeout_s,
            retries=min(settings.fetch_retries, 1),
            backoff=settings.fetch_backoff_s,
            interval=settings.fetch_request_interval_s,
        )
        rows = sources_status.status(
            entries,
            settings.raw_dir,
            online=not settings.offline,
            policy=policy,
            overrides=settings.source_overrides,
        )
    except FedminError as exc:
        _fail(exc)
    for row in rows:
        typer.echo(row.line())


@data_cli.command("build")
def data_build(
    force: Annotated[bool, typer.Option(help="Rebuild even if unchanged.")] = False,
    quiet: Annotated[bool, typer.Option(help="No progress bars.")] = False,
    warm: Annotated[
        bool,
        typer.Option(
            help="Then compute what the first `fedmin serve` would (the enriched deposits, "
            "the cell statics at the default cell sizes, the map's first ranking), kept "
            "beside the store."
        ),
    ] = True,
) -> None:
    """Validate and normalize the fetched sources into the store (atomic swap)."""
    settings = get_settings()
    try:
        result = store.build(settings.raw_dir, settings.data_dir, force=force, progress=not quiet)
    except FedminError as exc:
        _fail(exc)
    if result.skipped:
        typer.echo(f"store {result.manifest['build_id']} is up to date (sources unchanged)")
    else:
        typer.echo(
            f"built store {result.manifest['build_id']} in "
            f"{result.manifest['build_seconds']} s at {result.root}"
        )
    for layer_id, reason in result.absent.items():
        typer.echo(f"  absent: {layer_id} ({reason})")
    if warm:
        _warm(settings, progress=not quiet)


def _warm(settings: Settings, progress: bool = True) -> None:
    """Compute at build time what the server's first requests would, kept beside the
    store (``geo.engine``, ``geo.component_files``): the enriched deposits, the cell
    statics (land shares, distances, development) of the store-wide grids at the map's
    overview and default cell sizes, and the map's first ranking. A filter's first
    ranking then reads its cells' land shares instead of overlaying them."""
    started = time.perf_counter()
    typer.echo("warming: enriched deposits, cell statics and the map's first ranking ...")
    try:
        opened = store.open_store(settings.data_dir)
        with open_engine(opened, budgets=settings.engine_budgets()) as engine:
            engine.deposits  # noqa: B018 - the overlay and distances, cached beside the store
            for cell_km in sorted({settings.overview_cell_km, settings.default_cell_km}):
                with tqdm(
                    desc=f"cell statics {cell_km:g} km", unit="cell", disable=not progress
                ) as bar:

                    def advance(done: int, total: int, bar: tqdm = bar) -> None:
                        bar.total = total
                        bar.update(done - bar.n)

                    engine.warm_statics(RankParams(cell_km=cell_km), progress=advance)
            engine.rank(default_rank_params(settings))
    except FedminError as exc:
        _fail(exc)
    typer.echo(f"warmed in {time.perf_counter() - started:.1f} s")


@data_cli.command("warm")
def data_warm(quiet: Annotated[bool, typer.Option(help="No progress bars.")] = False) -> None:
    """Compute and keep beside the current store what `fedmin serve` would compute on its
    first start and first rankings (run by `data build`; again after an upgrade)."""
    _warm(get_settings(), progress=not quiet)


@data_cli.command("list")
def data_list() -> None:
    """Print the layers of the store with row counts, bounds and provenance."""
    try:
        opened = store.open_store(get_settings().data_dir)
    except FedminError as exc:
        _fail(exc)
    typer.echo(f"store {opened.build_id} built {opened.manifest['built_at']}")
    for layer_id, record in opened.manifest["layers"].items():
        rows = "raster" if record["rows"] is None else f"{record['rows']:>6} rows"
        bounds = ", ".join(f"{b:.2f}" for b in record["bounds"] or [])
        typer.echo(f"{layer_id:<26} {record['kind']:<15} {rows}  [{bounds}]")
        typer.echo(f"{'':<26} {record['publisher']}; {record['license']}")
        for source in record["sources"]:
            typer.echo(f"{'':<26} {source['path']}  sha256 {source['sha256'][:16]}")
            fetched = source.get("fetched") or {}
            if fetched.get("origin") not in (None, "mirror"):
                area = fetched.get("area", {})
                where = ",".join(area.get("states", [])) or area.get("bbox") or "whole source"
                typer.echo(
                    f"{'':<26} {fetched['origin']} {fetched.get('url')} for {where}, "
                    f"retrieved {fetched.get('retrieved')}"
                )
    for layer_id, reason in opened.manifest["absent"].items():
        typer.echo(f"{layer_id:<26} absent: {reason}")


def _parse_weights(text: str | None) -> dict[str, float] | None:
    """``potential=0.5,access=0.2`` -> {"potential": 0.5, "access": 0.2}."""
    if not text:
        return None
    weights: dict[str, float] = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        try:
            weights[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise typer.BadParameter(f"expected name=number, got {part!r}", param_hint="--weights")
    return weights


@cli.command("rank")
def rank(
    commodity: Annotated[
        list[str] | None,
        typer.Option(help="Commodity name, MRDS code or 'critical' (repeatable)."),
    ] = None,
    weights: Annotated[
        str | None,
        typer.Option(
            help="Component weights, e.g. potential=0.4,underdevelopment=0.3,"
            "access=0.1,land=0.2 (others keep their defaults)."
        ),
    ] = None,
    critical_list: Annotated[
        str,
        typer.Option(
            help=f"Critical-mineral list for 'critical' and the critical boost: "
            f"{', '.join(CRITICAL_LIST_IDS)}.",
        ),
    ] = DEFAULT_CRITICAL_LIST,
    cell_km: Annotated[float, typer.Option(help="Grid cell edge in km.")] = 5.0,
    top: Annotated[int, typer.Option(help="How many cells to print and export.")] = 20,
    state: Annotated[list[str] | None, typer.Option(help="State postal code (repeatable).")] = None,
    bbox: Annotated[
        str | None,
        typer.Option(
            help="minx,miny,maxx,maxy in lon/lat, e.g. -124.4,40,-122.3,41.8; minx > maxx "
            "crosses the antimeridian (170,50,-170,60: the Aleutians)"
        ),
    ] = None,
    min_open_land: Annotated[
        float,
        typer.Option(
            help="Open-land gate: leave out cells whose open or unknown-status land is below "
            "this share of their land (0 keeps every cell)."
        ),
    ] = DEFAULT_MIN_OPEN_LAND,
    min_undeveloped_share: Annotated[
        float,
        typer.Option(
            help="Development gate: leave out cells of worked ground, whose undeveloped "
            "share is below this or that lie in a mining district (0 keeps every cell)."
        ),
    ] = DEFAULT_MIN_UNDEVELOPED_SHARE,
    engine: Annotated[
        EngineKind,
        typer.Option(
            help="memory, or dask (a LocalCluster unless --scheduler is given). Both reuse "
            "the store's cached overlay when present; results are identical.",
        ),
    ] = EngineKind.memory,
    scheduler: Annotated[
        str | None, typer.Option(help="dask scheduler tcp://host:port (default: LocalCluster).")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Write the shortlist: .gpkg, .csv, .geojson, .kml or .zip (shapefile)."),
    ] = None,
) -> None:
    """Rank equal-area cells: high potential, low development, reachable, open land."""
    settings = get_settings()
    steps = tqdm(total=4, desc="ranking", unit="step")
    try:
        params = RankParams(
            filter=DepositFilter(
                commodities=tuple(commodity or ()),
                state=tuple(state or ()),
                bbox=bbox,
                critical_list=critical_list,
            ),
            weights=_parse_weights(weights),
            cell_km=cell_km,
            top=top,
            min_open_land=min_open_land,
            min_undeveloped_share=min_undeveloped_share,
        )
        steps.set_postfix_str("opening the store")
        opened = store.open_store(settings.data_dir)
        steps.update()
        steps.set_postfix_str("overlay and distances (cached per store)")
        with open_engine(
            opened,
            engine.value,
            scheduler or settings.dask_scheduler,
            budgets=settings.engine_budgets(),
        ) as ranker:
            steps.update()
            steps.set_postfix_str("scoring cells")
            result = ranker.rank(params)
            steps.update()
            if out is not None:
                steps.set_postfix_str(f"writing {out.name}")
                write_shortlist(ranker, result, params, out)
            steps.update()
            names = dict(zip(ranker.deposits["id"], ranker.deposits["name"], strict=True))
    except FedminError as exc:
        steps.close()
        _fail(exc)
    steps.close()
    _print_ranking(result, names)


#: Output file suffix -> export format name (``app.exports.FORMATS``).
OUT_FORMATS = {
    ".gpkg": "gpkg",
    ".csv": "csv",
    ".geojson": "geojson",
    ".json": "geojson",
    ".kml": "kml",
    ".zip": "shp",
}


def write_shortlist(
    engine: MemoryEngine, result: RankResult, params: RankParams, out: Path
) -> None:
    """Write the same shortlist file ``/shortlist`` serves, atomically (temp + rename).

    A CSV gets its provenance as ``<name>.manifest.json`` beside it, as the API's sidecar.
    """
    from app.exports import FORMATS, dumps
    from app.ranking_service import Ranking, build_shortlist

    fmt = OUT_FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise typer.BadParameter(f"use one of {', '.join(OUT_FORMATS)}", param_hint="--out")
    ranking = Ranking(result, datetime.now(UTC).isoformat(timespec="seconds"))
    query = f"fedmin rank {' '.join(sys.argv[2:])}"
    shortlist = build_shortlist(engine, ranking, params, params.top or len(result.cells), query)
    files = {out: FORMATS[fmt].encode(shortlist)}
    if fmt == "csv":
        files[out.with_name(out.stem + ".manifest.json")] = dumps(shortlist.metadata, indent=True)
    for path, payload in files.items():
        temp = path.with_name(f".{path.name}.part")
        temp.write_bytes(payload)
        os.replace(temp, path)
        typer.echo(f"wrote {path} ({len(payload)} bytes)")


def _print_ranking(result: RankResult, names: dict[str, str]) -> None:
    """The top cells with their components and best deposits, then AUC and notes."""
    from rich.console import Console
    from rich.table import Table

    def number(value: float) -> str:
        return "null" if value != value else f"{value:.3f}"

    table = Table(title=f"top {len(result.cells)} of {result.total_cells} cells")
    for column in (
        "rank",
        "cell",
        "lon, lat",
        "score",
        "potential",
        "underdev.",
        "access",
        "land",
        "pareto",
        "top deposits",
    ):
        table.add_column(column)
    for row in result.cells.itertuples():
        centre = row.geometry.centroid
        best = [f"{names.get(i) or '?'} ({i})" for i in list(row.top_deposit_ids)[:2]]
        table.add_row(
            str(row.rank),
            row.cell_id,
            f"{centre.x:.3f}, {centre.y:.3f}",
            number(row.score),
            *(number(getattr(row, c)) for c in ("potential", "underdevelopment", "access", "land")),
            "yes" if row.pareto else "",
            "; ".join(best),
        )
    console = Console(width=None if sys.stdout.isatty() else 200)
    console.print(table)
    listed = critical_list_info(result.params["filter"]["critical_list"])
    console.print(f"critical minerals: {listed['id']} ({listed['title']})")
    validation = result.validation
    console.print(
        f"success-rate AUC: {validation.get('auc')} ({validation.get('held_out')} producers "
        "and past producers held out of the potential; 0.5 = random)"
    )
    for note in result.notes:
        console.print(f"note: {note}")


@cli.command("serve")
def serve(
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Server processes sharing the port; each loads the store (its own RSS, "
            "tile cache and store watcher).",
        ),
    ] = 1,
) -> None:
    """Start the API and the map on http://HOST:PORT (default 127.0.0.1:8000)."""
    import uvicorn

    from app.main import create_app

    settings = get_settings()
    options = {
        "host": host or settings.host,
        "port": port or settings.port,
        "access_log": False,  # app.middleware logs one structured line per request
    }
    if workers == 1:
        uvicorn.run(create_app(settings), **options)
    else:  # each worker process imports the app factory and reads the same settings
        uvicorn.run("app.main:create_app", factory=True, workers=workers, **options)


def main() -> None:
    cli()
