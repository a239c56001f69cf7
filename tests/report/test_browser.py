"""The report in a real browser: headless Chromium decodes every image and shows the tables,
and a screenshot of a run's report looks like a page (``make report-screenshot`` saves it as
docs/report.png, the picture in the README)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests._cli import run_main
from tests.report import _browser
from tests.report.conftest import World

BROWSER = _browser.chromium()
pytestmark = pytest.mark.skipif(
    BROWSER is None,
    reason="no Chromium found (chromium, chromium-browser or $TOOLKIT_CHROMIUM); on Debian: "
    "apt-get install chromium",
)
SHOT = (1100, 1800)  # the top of the page: summary, tables, curves, confusion matrix


def report(capsys: pytest.CaptureFixture[str], *args: str) -> Path:
    code, out, err = run_main(capsys, "report", *args)
    assert code == 0, err
    return Path(out.strip().removeprefix("wrote "))


@pytest.mark.parametrize("kind", ["run", "study"])
def test_chromium_renders_every_image_and_table(
    world: World, env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    assert BROWSER is not None
    args = (world.run.name,) if kind == "run" else ("--study", world.study)
    page = report(capsys, *args)
    marks = _browser.rendered(BROWSER, page, tmp_path)
    decoded, total = map(int, marks["images"].split("/"))
    # a run: curves, confusion, t-SNE; a study: history, intermediate values and its best run's
    assert total == (3 if kind == "run" else 5) and decoded == total, marks
    assert all(int(w) > 100 for w in marks["widths"].split(",")), marks
    assert int(marks["tables"]) >= (20 if kind == "run" else 5), marks


def test_a_screenshot_of_a_run_report(
    world: World, env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from PIL import Image

    assert BROWSER is not None
    page = report(capsys, world.run.name)
    shot = _browser.screenshot(BROWSER, page, tmp_path / "report.png", SHOT)
    with Image.open(shot) as img:
        assert img.size == SHOT
        pixels = np.asarray(img.convert("L"), dtype=np.float32)
    # A page, not a blank or an error screen: mostly white paper, with text and figures on it.
    white = (pixels > 245).mean()
    assert 0.5 < white < 0.97, white
    rows_with_ink = (pixels < 128).any(axis=1).mean()
    assert rows_with_ink > 0.3, rows_with_ink
    target = os.environ.get("TOOLKIT_REPORT_SCREENSHOT")
    if target:  # make report-screenshot: the README's picture
        shutil.copyfile(shot, target)
