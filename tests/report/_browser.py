"""Headless Chromium (Debian's package) for the report tests: the rendered DOM and a screenshot.

No driver and no download: ``chromium --headless --dump-dom`` and ``--screenshot``. The page's
own policy forbids scripts, so :func:`rendered` loads a copy that adds one small script (and
allows it): once the page has loaded, it marks on ``<body>`` how many images decoded and how
many tables there are.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome")

PROBE = """<script>
window.addEventListener("load", () => {
  const imgs = Array.from(document.images);
  const ok = imgs.filter((i) => i.complete && i.naturalWidth > 0);
  document.body.dataset.images = `${ok.length}/${imgs.length}`;
  document.body.dataset.widths = ok.map((i) => i.naturalWidth).join(",");
  document.body.dataset.tables = String(document.querySelectorAll("table tbody tr").length);
});
</script>"""


def chromium() -> str | None:
    """The Chromium on this machine, if any (``$TOOLKIT_CHROMIUM`` first)."""
    named = os.environ.get("TOOLKIT_CHROMIUM")
    if named:
        return shutil.which(named)
    return next((p for p in map(shutil.which, CANDIDATES) if p), None)


def _run(browser: str, *args: str) -> str:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--mute-audio"]
    done = subprocess.run(
        [browser, *flags, "--no-first-run", "--disable-extensions", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout


def rendered(browser: str, page: Path, tmp: Path) -> dict[str, str]:
    """Load ``page`` (with the probe) and return the probe's marks on ``<body>``."""
    html = page.read_text(encoding="utf-8")
    html = html.replace("default-src 'none';", "default-src 'none'; script-src 'unsafe-inline';")
    probe = tmp / "probed.html"
    probe.write_text(html.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = _run(browser, "--virtual-time-budget=10000", "--dump-dom", probe.as_uri())
    body = re.search(r"<body([^>]*)>", dom)
    assert body is not None, dom[:500]
    return dict(re.findall(r'data-(\w+)="([^"]*)"', body.group(1)))


def screenshot(browser: str, page: Path, out: Path, size: tuple[int, int]) -> Path:
    """A PNG of the top ``size`` (width, height) pixels of ``page``."""
    _run(browser, f"--window-size={size[0]},{size[1]}", f"--screenshot={out}", page.as_uri())
    return out
