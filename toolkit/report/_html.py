"""The pieces of a report page: escaped text, tables, embedded images, the page itself.

A page needs nothing but itself: images are embedded as base64 ``data:`` URIs, the style is
inline, and its Content-Security-Policy forbids every fetch (and every script), so a page
mailed to a team or put on a course site shows the same everywhere, offline.
"""

from __future__ import annotations

import base64
import html
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# Nothing may be fetched or run: images only from data: URIs, the style only from the page.
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

STYLE = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2328;
       max-width: 1100px; margin: 24px auto; padding: 0 20px; }
h1 { font-size: 24px; margin-bottom: 2px; } h2 { font-size: 19px; margin-top: 32px;
     border-bottom: 1px solid #d0d7de; padding-bottom: 4px; } h3 { font-size: 16px; }
.sub { color: #59636e; margin-top: 0; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 14px; }
th, td { border: 1px solid #d0d7de; padding: 4px 10px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.best td { background: #dafbe1; font-weight: 600; }
figure { margin: 12px 0 20px; } figure img { max-width: 100%; border: 1px solid #d0d7de; }
figcaption { color: #59636e; font-size: 13px; }
.figs { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
.figs figure { flex: 1 1 420px; }
.cols { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
.note { color: #59636e; font-style: italic; }
footer { margin-top: 40px; color: #59636e; font-size: 12px; }
"""


def esc(value: Any) -> str:
    """Text as HTML (user text, class names and paths included)."""
    return html.escape("" if value is None else str(value), quote=True)


def table(
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    numeric: Sequence[int] = (),
    best: int | None = None,
) -> str:
    """An HTML table; ``numeric`` column indices align right, row ``best`` is highlighted."""
    head = "".join(f"<th>{esc(c)}</th>" for c in columns)
    body = []
    for i, row in enumerate(rows):
        cells = "".join(
            f'<td class="num">{esc(v)}</td>' if j in numeric else f"<td>{esc(v)}</td>"
            for j, v in enumerate(row)
        )
        body.append(f'<tr class="best">{cells}</tr>' if i == best else f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def pairs(items: Sequence[tuple[str, Any]]) -> str:
    """A two-column table of names and values (empty values left out)."""
    rows = [(k, v) for k, v in items if v not in (None, "")]
    return table(["", ""], rows).replace("<thead><tr><th></th><th></th></tr></thead>", "")


def image(path: Path, caption: str, *, width: int | None = None) -> str:
    """A PNG embedded in the page, with its caption (at most ``width`` CSS pixels wide)."""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    style = f' style="max-width: min(100%, {width}px)"' if width else ""
    return (
        f'<figure><img alt="{esc(caption)}" src="data:image/png;base64,{data}"{style}>'
        f"<figcaption>{esc(caption)}</figcaption></figure>"
    )


def figures(parts: Sequence[str]) -> str:
    """Figures side by side where the page is wide enough."""
    return f'<div class="figs">{"".join(parts)}</div>' if parts else ""


def note(text: str) -> str:
    return f'<p class="note">{esc(text)}</p>'


def page(title: str, subtitle: str, sections: Sequence[str]) -> str:
    """The whole self-contained page."""
    from toolkit import __version__

    made = time.strftime("%Y-%m-%d %H:%M")
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{STYLE}</style></head>\n<body>"
        f'<h1>{esc(title)}</h1><p class="sub">{esc(subtitle)}</p>\n'
        + "\n".join(sections)
        + f"\n<footer>made by toolkit {esc(__version__)} (tk report) on {esc(made)}</footer>"
        "</body></html>\n"
    )
