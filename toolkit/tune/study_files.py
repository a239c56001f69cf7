"""Finding study files: a path, a file in ``studies/``, or an example shipped with the toolkit.

The example studies are package data (``toolkit/studies/*.toml``, read through
:mod:`importlib.resources`), so ``tk tune compare COMPETITION`` and ``tk run`` work wherever the
toolkit is installed, not only in a checkout. ``tk study new NAME --from compare`` copies one into
``studies/NAME.toml`` to edit, and that copy then wins over the example of the same name.
"""

from __future__ import annotations

import re
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from toolkit.errors import ToolkitError

LOCAL_DIR = Path("studies")  # the user's study files, relative to the working folder
SUFFIX = ".toml"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")  # a study name: a file stem, no folders


def examples_dir() -> Traversable:
    """The folder of the example study files shipped inside the package."""
    return files("toolkit.studies")


def example_names() -> list[str]:
    """The names of the shipped example studies (``compare``, ``finetune``, ...), sorted."""
    return sorted(
        f.name.removesuffix(SUFFIX)
        for f in examples_dir().iterdir()
        if f.name.endswith(SUFFIX) and f.is_file()
    )


def find_study(ref: str | Path) -> Path | Traversable:
    """The study file ``ref`` names: the file at that path if there is one; else, for a bare
    name (``compare``, ``compare.toml``) or ``studies/NAME.toml``, ``studies/NAME.toml`` in the
    working folder, then the example of that name shipped with the toolkit."""
    path = Path(ref)
    if path.is_file():
        return path
    name = _study_name(path)
    if name is not None:
        local = LOCAL_DIR / f"{name}{SUFFIX}"
        if local.is_file():
            return local
        example = examples_dir().joinpath(f"{name}{SUFFIX}")
        if example.is_file():
            return example
    examples = ", ".join(example_names())
    if path.exists():
        raise ToolkitError(
            f"study file {ref} is a folder; name a TOML study file, or one of the examples "
            f"({examples})."
        )
    raise ToolkitError(
        f"study file {ref} does not exist: name one of the examples ({examples}), a file in "
        f"{LOCAL_DIR}/, or a path; `tk study new NAME --from compare` writes one to edit."
    )


def new_study(name: str, source: str = "compare") -> Path:
    """Write ``studies/NAME.toml``, a copy of the study ``source`` names, to edit; never over
    an existing file. Returns the path written."""
    stem = name.removesuffix(SUFFIX)
    if not _NAME.fullmatch(stem):
        raise ToolkitError(
            f"study name {name!r} is not a plain name; use letters, digits, '-', '_' and '.' "
            "(it becomes studies/NAME.toml)."
        )
    target = LOCAL_DIR / f"{stem}{SUFFIX}"
    if target.exists():
        raise ToolkitError(f"{target} already exists; edit it, or choose another name.")
    origin = find_study(source)
    try:
        text = origin.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ToolkitError(f"cannot read study file {source}: {err}.") from None
    text = _retitle(text, origin.name.removesuffix(SUFFIX), stem)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:  # "x": created here or refused, even if another process writes the same name now
        out = target.open("x", encoding="utf-8")
    except FileExistsError:
        raise ToolkitError(f"{target} already exists; edit it, or choose another name.") from None
    with out:
        try:
            out.write(text)
        except BaseException:
            target.unlink(missing_ok=True)
            raise
    return target


def _study_name(path: Path) -> str | None:
    """The name a missing ``path`` asks for when it is one (``NAME``, ``NAME.toml``,
    ``studies/NAME.toml``), else None (any other path is only a path)."""
    parts = path.parts
    if len(parts) == 2 and parts[0] == LOCAL_DIR.name and path.suffix == SUFFIX:
        parts = parts[1:]
    if len(parts) != 1:
        return None
    stem = parts[0].removesuffix(SUFFIX)
    return stem if _NAME.fullmatch(stem) else None


def _retitle(text: str, source: str, name: str) -> str:
    """An example's header, made true for its copy: how to tune the copy, not the example."""
    usage = re.compile(rf"tk tune (?:{LOCAL_DIR.name}/)?{re.escape(source)}(?:\{SUFFIX})? ")
    lines = [
        usage.sub(f"tk tune {LOCAL_DIR.name}/{name}{SUFFIX} ", line)
        for line in text.splitlines(keepends=True)
        if not line.startswith("#   tk study new NAME --from ")
    ]
    return "".join(lines)
