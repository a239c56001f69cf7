"""``tk report``: one self-contained HTML page for a run, a study or a competition."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests._cli import run_main
from tests.report.conftest import World

DATA_PNG = re.compile(r'<img alt="([^"]*)" src="data:image/png;base64,([A-Za-z0-9+/=]+)"[^>]*>')


def images(html: str) -> dict[str, bytes]:
    """The page's embedded images by caption, decoded."""
    import base64

    return {alt: base64.b64decode(data) for alt, data in DATA_PNG.findall(html)}


def self_contained(html: str) -> None:
    """Nothing to fetch: no external source, stylesheet or script; a policy that forbids them."""
    assert not re.search(r'(src|href)="(?!data:)', html)
    assert "<script" not in html and "<link" not in html
    assert "default-src 'none'" in html


def test_the_run_artifacts_include_a_confusion_matrix_and_a_tsne(world: World) -> None:
    for name in ("curves.png", "confusion.png", "tsne.png"):
        assert (world.run / name).read_bytes()[:4] == b"\x89PNG", name


def test_a_run_report_holds_its_tables_pictures_and_leaderboard(
    world: World, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_main(capsys, "report", world.run.name[:20])
    assert code == 0, err
    page = env / f"run-{world.run.name}.html"
    assert out.strip() == f"wrote {page}"
    html = page.read_text()
    self_contained(html)
    pictures = images(html)
    assert len(pictures) == 3 and all(p[:4] == b"\x89PNG" for p in pictures.values())
    assert any("confusion" in c for c in pictures) and any("t-SNE" in c for c in pictures)
    assert "val accuracy" in html and "fastnet + supcon + linear-probe" in html
    assert "<th>class</th>" in html  # per-class accuracy
    assert "Leaderboard of digits" in html and 'class="best"' in html  # its submission
    assert "run " + world.run.name.split("-", 2)[2] in html


def test_a_study_report_has_its_trials_plots_and_best_run(
    world: World, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_file = env.parent / "shared" / "study.html"
    code, _, err = run_main(capsys, "report", "--study", world.study, "--out", str(out_file))
    assert code == 0, err
    html = out_file.read_text()
    self_contained(html)
    captions = list(images(html))
    assert any("best so far" in c for c in captions)  # optimisation history
    assert any("pruner" in c for c in captions)  # intermediate values
    assert "no importance plot: parameter importance needs" in html  # 3 trials only
    assert any("confusion" in c for c in captions)  # the best trial's run
    assert "Best trial #" in html and world.run.name in html
    assert html.count("<tr") >= 4 + 3  # the trials table: header + 4 trials, and more


def test_a_competition_report_lists_runs_and_submissions(
    world: World, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_main(capsys, "report", "--competition", str(world.base / "digits"))
    assert code == 0, err
    html = (env / "competition-digits.html").read_text()
    self_contained(html)
    assert "Runs on digits" in html and "Leaderboard of digits" in html
    assert f"Best run: {world.run.name}" in html


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        ((), "takes one of RUN, --study NAME or --competition NAME."),
        (("RUNID", "--study", "s"), "(got RUN, --study)"),
        (("no-such-run",), "unknown run 'no-such-run'"),
        (("--study", "no-such-study"), "unknown study 'no-such-study'"),
        (("--competition", "nowhere"), "no runs and no submissions for competition 'nowhere'"),
    ],
)
def test_user_errors_are_one_line_and_write_nothing(
    world: World,
    env: Path,
    capsys: pytest.CaptureFixture[str],
    args: tuple[str, ...],
    needle: str,
) -> None:
    before = sorted(p.relative_to(world.base) for p in world.base.rglob("*"))
    code, out, err = run_main(capsys, "report", *args)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: ") and needle in err, err
    assert not env.exists() and not list(env.parent.iterdir())
    assert sorted(p.relative_to(world.base) for p in world.base.rglob("*")) == before
