"""docs/PLUGINS.md's contract section, rendered from the Protocols of :mod:`.contracts`.

The section sits between :data:`BEGIN` and :data:`END` in the doc; ``tests/registry`` fails
when it differs from :func:`render`. Regenerate it after editing a Protocol with::

    python -m toolkit.registry._contracts_doc            # rewrites docs/PLUGINS.md in place

Member descriptions come from the Protocols themselves: an attribute's comment (trailing, or
on the lines just above it) and a method's docstring.
"""

from __future__ import annotations

import ast
import inspect
import re
import sys
import textwrap
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from toolkit.errors import ToolkitError
from toolkit.registry import contracts
from toolkit.registry.contracts import EmbeddingLoss, Encoder, Head, LogitLoss, Loss, Member

BEGIN = "<!-- contracts:begin -->"
END = "<!-- contracts:end -->"
COMMAND = "python -m toolkit.registry._contracts_doc"
WIDTH = 99  # the doc's line length
INTRO = (
    "`Registry.create` checks every plugin it builds against its contract, once: a missing or "
    "badly typed member is an error naming the plugin, its `module:object` and the member. "
    "Every plugin is callable: a torch `nn.Module`, whose `__call__` runs `forward`."
)

# In the doc's order; a refinement (LogitLoss) follows the contract it extends.
SECTIONS: tuple[type, ...] = (Encoder, Loss, LogitLoss, EmbeddingLoss, Head)
# Optional traits, each read by the core only through its accessor in contracts.py.
OPTIONAL: dict[type, tuple[Callable[..., Any], ...]] = {
    Encoder: (
        contracts.data_config,
        contracts.preferred_image_size,
        contracts.weight_source_params,
        contracts.init_from_data,
    ),
}


def render() -> str:
    """The contract section as markdown, markers included (ends with a newline)."""
    out = [
        BEGIN,
        "<!-- Generated from the Protocols in toolkit/registry/contracts.py: edit them, then",
        f"     run `{COMMAND}`. -->",
        "",
        *_paragraphs(INTRO),
    ]
    for contract in SECTIONS:
        out += ["", f"### {contract.__name__}", ""]
        out += _paragraphs(inspect.getdoc(contract) or "")
        bases = [b.__name__ for b in contract.__bases__ if b in SECTIONS]
        lead = f"Everything a `{bases[0]}` has, and:" if bases else "Members:"
        out += ["", lead, ""]
        out += [_bullet(f"`{m.signature}`", _describe(m)) for m in contracts.members(contract)]
        if contract in OPTIONAL:
            out += ["", "Optional traits, read by the core only through `toolkit.registry`:", ""]
            out += [_bullet(f"`{_call(f)}`", _flat(inspect.getdoc(f))) for f in OPTIONAL[contract]]
    out += ["", END]
    return "\n".join(out) + "\n"


def section_of(text: str) -> str | None:
    """The contract section in ``text`` (markers included), or None when it has none."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        return None
    return text[start : end + len(END)] + "\n"


def update(path: Path) -> bool:
    """Rewrite the contract section of ``path``; True when it changed."""
    text = path.read_text()
    current = section_of(text)
    if current is None:
        raise ToolkitError(f"{path} has no '{BEGIN}' ... '{END}' section; add the two markers.")
    new = text.replace(current, render(), 1)
    if new == text:
        return False
    path.write_text(new)
    return True


def _describe(member: Member) -> str:
    if member.is_method:
        return _flat(inspect.getdoc(getattr(member.owner, member.name)))
    return _attribute_comment(member.owner, member.name)


@cache
def _source_lines() -> tuple[str, ...]:
    return tuple(inspect.getsource(contracts).splitlines())


def _attribute_comment(owner: type, name: str) -> str:
    """The comment of attribute ``name`` in ``owner``: trailing, else the lines above it."""
    lines = _source_lines()
    tree = ast.parse("\n".join(lines))
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == owner.__name__)
    node = next(
        n
        for n in cls.body
        if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name) and n.target.id == name
    )
    line = lines[node.lineno - 1]
    if "#" in line:
        return line.split("#", 1)[1].strip()
    above, row = [], node.lineno - 2
    while row >= 0 and lines[row].strip().startswith("#"):
        above.insert(0, lines[row].strip().lstrip("#").strip())
        row -= 1
    return " ".join(above)


def _call(function: Callable[..., Any]) -> str:
    args = ", ".join(inspect.signature(function).parameters)
    return f"{function.__name__}({args})"


def _flat(doc: str | None) -> str:
    return " ".join((doc or "").split())


def _paragraphs(doc: str) -> list[str]:
    out: list[str] = []
    for block in doc.split("\n\n"):
        if out:
            out.append("")
        out += _wrap(_flat(block))
    return out


def _bullet(head: str, text: str) -> str:
    return "\n".join(_wrap(f"- {head}: {text}" if text else f"- {head}", indent="  "))


def _wrap(text: str, indent: str = "") -> list[str]:
    """``text`` wrapped to the doc's width, never inside a `code span` or a (short, group)."""
    glued = re.sub(r"`[^`]*`|\([^()`]*\)", lambda m: m.group().replace(" ", "\0"), text)
    lines = textwrap.wrap(
        glued, WIDTH, subsequent_indent=indent, break_on_hyphens=False, break_long_words=False
    )
    return [line.replace("\0", " ") for line in lines]


def main(argv: list[str] | None = None) -> int:
    """Rewrite the contract section of the doc (default docs/PLUGINS.md)."""
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0] if args else contracts.DOC)
    changed = update(path)
    print(f"{path}: contract section {'updated' if changed else 'already up to date'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
