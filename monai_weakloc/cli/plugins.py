"""``weakloc plugins``: what the plugin registry found."""

from __future__ import annotations

import click

from monai_weakloc.registry import AUTOLOAD_ENV, HOST_PLUGIN, KINDS, REGISTRY


@click.group()
def plugins() -> None:
    """Inspect the plugins found through entry points."""


@plugins.command("list")
@click.option("--traceback", "show_traceback", is_flag=True, help="Print the full traceback of load errors.")
def list_plugins(show_traceback: bool) -> None:
    """List each plugin, its components by kind, and its load error if any.

    Exits with status 1 when a plugin failed to load.
    """
    found = REGISTRY.plugins()
    if not found:
        click.echo(f"no plugins found (autoload off if {AUTOLOAD_ENV} is set)")
    failed = False
    for info in found:
        status = "ok" if info.loaded else "FAILED"
        click.echo(f"{info.name} [{status}] {info.value} ({info.distribution or 'unknown distribution'})")
        for kind in KINDS:
            component_names = sorted(info.components.get(kind, []))
            if component_names:
                click.echo(f"  {kind}: {', '.join(component_names)}")
        if not info.loaded:
            failed = True
            click.echo(f"  error: {info.error}", err=True)
            if show_traceback and info.traceback:
                click.echo(info.traceback, err=True)
    host = {kind: [n for n in REGISTRY.names(kind) if REGISTRY.owner(kind, n) == HOST_PLUGIN] for kind in KINDS}
    if any(host.values()):
        click.echo(f"{HOST_PLUGIN} (host)")
        for kind, component_names in host.items():
            if component_names:
                click.echo(f"  {kind}: {', '.join(component_names)}")
    if failed:
        raise SystemExit(1)
