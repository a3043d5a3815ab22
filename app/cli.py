"""The ``fedmin`` command line: provision and build data, serve the API, rank areas."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from app.settings import get_settings
from layers import catalog, provision, store
from layers.errors import FedminError

cli = typer.Typer(help="fedmin: mineral deposits on US federal lands.", no_args_is_help=True)
data_cli = typer.Typer(
    help="Provision the sources and build the local store.", no_args_is_help=True
)
cli.add_typer(data_cli, name="data")

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
    quiet: Annotated[bool, typer.Option(help="No progress bars.")] = False,
) -> None:
    """Copy (from a mirror) or download every catalog source, verified, into data/raw."""
    settings = get_settings()
    try:
        report = provision.fetch(
            catalog.LAYERS,
            settings.raw_dir,
            mirror or settings.data_mirror,
            progress=not quiet,
            download=not settings.offline,
        )
    except FedminError as exc:
        _fail(exc)
    typer.echo(report.summary())


@data_cli.command("build")
def data_build(
    force: Annotated[bool, typer.Option(help="Rebuild even if unchanged.")] = False,
    quiet: Annotated[bool, typer.Option(help="No progress bars.")] = False,
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
    for layer_id, reason in opened.manifest["absent"].items():
        typer.echo(f"{layer_id:<26} absent: {reason}")


@cli.command("serve")
def serve(
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
) -> None:
    """Start the API and the map on http://HOST:PORT (default 127.0.0.1:8000)."""
    import uvicorn

    from app.main import create_app

    settings = get_settings()
    uvicorn.run(create_app(settings), host=host or settings.host, port=port or settings.port)


def main() -> None:
    cli()
