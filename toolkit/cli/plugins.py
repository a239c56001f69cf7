"""``tk plugins``: list, show and scaffold plugins."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from toolkit.cli._common import JsonOption, print_json, stdout, table

if TYPE_CHECKING:
    from rich.text import Text

app = typer.Typer(help="List, inspect and scaffold plugins.", no_args_is_help=True)


@app.command("list")
def list_(
    kind: Annotated[
        str | None, typer.Option("--kind", "-k", help="Only this kind: encoder, loss or head.")
    ] = None,
    pattern: Annotated[str, typer.Argument(help="fnmatch pattern on names.")] = "*",
    json: JsonOption = False,
) -> None:
    """List registered plugins: name, kind, source, summary, status."""

    from toolkit.registry import all_infos, broken_files

    infos = all_infos(kind, pattern, cached=True)
    if json:
        data = [i.to_dict() for i in infos]
        data += [
            {"name": Path(f).stem, "kind": None, "source": f, "status": "broken", "error": e}
            for f, e in broken_files.items()
        ]
        print_json(data)
        return
    # Plugin text is data, not markup (the consoles print "[low, high]" as written).
    rows = [
        (
            i.name,
            i.kind,
            i.source,
            (i.summary if i.status == "ok" else i.error) or "",
            _status(i.status),
        )
        for i in infos
    ]
    rows += [(Path(f).stem, "?", f, e, _status("broken")) for f, e in broken_files.items()]
    stdout().print(table("Plugins", ["name", "kind", "source", "summary", "status"], rows))


@app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="Plugin name, e.g. convnet4 or triplet.")],
    kind: Annotated[
        str | None, typer.Option("--kind", "-k", help="Disambiguate when kinds share a name.")
    ] = None,
    json: JsonOption = False,
) -> None:
    """Show one plugin's parameters (with defaults) and its declared search space."""

    from rich.text import Text

    from toolkit.registry import find_info

    info = find_info(name, kind)
    if json:
        print_json(info.to_dict())
        return
    console = stdout()
    console.print(
        Text.assemble((info.name, "bold"), f" ({info.kind}) from {info.source}  ({info.target})")
    )
    if info.status != "ok":
        console.print(Text.assemble(("broken:", "red"), f" {info.error or ''}"))
        raise typer.Exit(2)
    if info.summary:
        console.print(info.summary)
    rows = [
        (p.name, p.annotation, "(required)" if p.required else repr(p.default))
        for p in info.params
    ]
    console.print(table("Parameters", ["name", "type", "default"], rows))
    space_rows = [(k, _describe(d.to_dict())) for k, d in info.space.items()]
    console.print(table("Search space", ["parameter", "range"], space_rows))


@app.command("new")
def new(
    kind: Annotated[str, typer.Argument(help="encoder, loss or head.")],
    name: Annotated[str, typer.Argument(help="Registration name, e.g. my-encoder.")],
    directory: Annotated[
        Path, typer.Option("--dir", help="Folder to write the plugin and its test into.")
    ] = Path("."),
) -> None:
    """Scaffold a working plugin file plus a test for it (use it with --plugins DIR)."""
    from toolkit.registry import scaffold

    plugin, test = scaffold(kind, name, directory)
    console = stdout()
    console.print(f"wrote {plugin}\nwrote {test}", soft_wrap=True)  # paths never fold
    console.print(
        f"try it: tk --plugins {directory} plugins show {name}   |   pytest {test}",
        highlight=False,
    )


def _status(status: str) -> Text:
    from rich.text import Text

    return Text(status, style={"ok": "green", "broken": "red"}.get(status, ""))


def _describe(spec: dict[str, object]) -> str:
    if spec["type"] == "choice":
        return f"one of {spec['choices']}"
    scale = "log" if spec.get("log") else "linear"
    return f"{spec['type']} [{spec['low']}, {spec['high']}] ({scale})"
