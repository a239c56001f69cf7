"""The toolkit as a user meets it: a wheel installed into a fresh virtual environment outside
the checkout, used from empty folders.

The wheel is built from a copy of the sources (so the checkout gets no ``build/`` or
``*.egg-info``) with the development environment's setuptools, and installed with pip's
``--no-index``: nothing is downloaded. The new environment sees the already-installed
dependencies through a ``.pth`` line naming the development site-packages, placed after its own
site-packages; ``.pth`` files inside a folder named that way are not run, so the editable
install's finder stays off and ``toolkit`` can only come from the wheel (checked).
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "README.md", "toolkit", "plugins")  # what the wheel is built from
TIMEOUT = 300  # seconds per command; the whole test takes about a minute on 2 cores


def run(*cmd: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run ``cmd``; its stdout, failing the test with its output if it fails."""
    done = subprocess.run(
        [str(c) for c in cmd],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, f"{cmd}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def build_wheel(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
            shutil.copytree(ROOT / name, src / name, ignore=ignore)
        else:
            shutil.copy(ROOT / name, src / name)
    dist = tmp_path / "dist"
    pip = (sys.executable, "-m", "pip", "--disable-pip-version-check")
    run(*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", dist, src, cwd=src)
    (wheel,) = dist.glob("toolkit_ic-*.whl")
    return wheel


def make_venv(tmp_path: Path, wheel: Path) -> Path:
    """A fresh venv with the wheel installed and the development dependencies visible."""
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    pip = (sys.executable, "-m", "pip", "--disable-pip-version-check", "--python", python)
    run(*pip, "install", "--no-deps", "--no-index", wheel, cwd=tmp_path)
    purelib = run(
        python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=tmp_path
    )
    dev_sites = [p for p in site.getsitepackages() if Path(p).is_dir()]
    (Path(purelib.strip()) / "zz_dev_dependencies.pth").write_text("\n".join(dev_sites) + "\n")
    return venv


def user_env(venv: Path, cache: Path) -> dict[str, str]:
    """The environment of a user of that venv: no toolkit folders set, nothing from this
    checkout on the path, one torch thread, the data cache in the test's folder."""
    drop = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("TOOLKIT_")}
    env.update(
        PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        VIRTUAL_ENV=str(venv),
        PYTHONNOUSERSITE="1",
        PIP_NO_INDEX="1",
        HF_HUB_OFFLINE="1",
        TOOLKIT_CACHE=str(cache),
        TOOLKIT_THREADS="1",
        TOOLKIT_PRECISION=os.environ.get("TOOLKIT_PRECISION", "fp32"),
    )
    return env


WHERE = """
import importlib.metadata as md, json, sys, toolkit, toolkit_plugins
from toolkit.tune.study_files import examples_dir
eps = md.entry_points(group="toolkit.encoders")
print(json.dumps({
    "toolkit": toolkit.__file__, "plugins": toolkit_plugins.__file__,
    "examples": str(examples_dir()), "dist": str(md.distribution("toolkit-ic").locate_file("")),
    "encoders": sorted(ep.name for ep in eps), "path": sys.path,
}))
"""


def test_the_installed_wheel_runs_the_main_job_and_a_tune_from_an_empty_folder(
    tmp_path: Path,
) -> None:
    wheel = build_wheel(tmp_path)
    names = zipfile.ZipFile(wheel).namelist()
    shipped = [p.name for p in (tmp_path / "src" / "toolkit" / "studies").glob("*.toml")]
    packaged = [n.rsplit("/", 1)[1] for n in names if n.startswith("toolkit/studies/")]
    assert sorted(packaged) == sorted(["__init__.py", *shipped])
    src = tmp_path / "src"  # the copy the wheel was built from
    sources = [p.relative_to(src).as_posix() for p in (src / "toolkit").rglob("*.py")]
    sources += [
        "toolkit_plugins/" + p.relative_to(src / "plugins").as_posix()
        for p in (src / "plugins").rglob("*.py")
    ]
    missing = sorted(set(sources) - set(names))
    assert not missing, f"add their packages to pyproject's [tool.setuptools] packages: {missing}"
    venv = make_venv(tmp_path, wheel)
    env = user_env(venv, tmp_path / "cache")
    tk = venv / "bin" / "tk"

    # The toolkit, its plugins, its example studies and its entry points come from the wheel.
    where = json.loads(run(venv / "bin" / "python", "-c", WHERE, cwd=tmp_path, env=env))
    for key in ("toolkit", "plugins", "examples", "dist"):
        assert Path(where[key]).is_relative_to(venv), (key, where[key])
    from_checkout = {p for p in where["path"] if p and Path(p).is_relative_to(ROOT)}
    assert from_checkout <= set(site.getsitepackages()), where["path"]  # the dev .venv at most
    assert {"convnet4", "fastnet", "pixels"} <= set(where["encoders"])

    # A tk run that fails leaves its empty folder empty (it made no data/digits).
    failing = tmp_path / "failing"
    failing.mkdir()
    done = subprocess.run(
        [str(tk), "run", "--study", "nosuch"],
        cwd=failing, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False,
    )  # fmt: skip
    assert done.returncode == 2 and done.stderr.startswith("error: study file nosuch"), done
    assert not list(failing.iterdir())

    # The main job, shortened to 3 trials of the shipped comparing study, in an empty folder.
    work = tmp_path / "work"
    work.mkdir()
    out = run(tk, "run", "--trials", "3", "--quiet", cwd=work, env=env)
    assert "tk run: done" in out
    (csv,) = (work / "submissions" / "digits").glob("*.csv")
    provenance = json.loads(csv.with_suffix(".json").read_text())
    assert provenance["study"] == "compare-digits" and provenance["local_test_score"] > 0.5
    assert (work / "studies" / "compare-digits.journal").is_file()

    # A tiny tune of a shipped example by name, then a study file written there to edit.
    run(tk, "tune", "compare", "data/digits", "--trials", "1", "--quiet",
        "--set", "epochs=1", "--set", "head_epochs=2", cwd=work, env=env)  # fmt: skip
    listed = json.loads(run(tk, "study", "list", "--json", cwd=work, env=env))
    assert sorted(s["name"] for s in listed) == ["compare", "compare-digits"]
    assert not any(s.get("fail") for s in listed), listed
    out = run(tk, "study", "new", "mine", "--from", "finetune", cwd=work, env=env)
    assert "wrote studies/mine.toml" in out
    text = (work / "studies" / "mine.toml").read_text()
    assert text.endswith((ROOT / "toolkit" / "studies" / "finetune.toml").read_text()[-200:])
