"""Provenance helpers: git state, versions, the Kaggle command, secrets kept out."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

from toolkit.submit.provenance import git_state, kaggle_command, mask_url, package_versions


def test_git_state_outside_a_checkout_is_none(tmp_path: Path) -> None:
    assert git_state(tmp_path) is None


def test_git_state_of_a_checkout_has_commit_and_dirty_flag(tmp_path: Path) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "a.txt").write_text("a")
    git("add", "a.txt")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "a")
    clean = git_state(tmp_path)
    assert clean is not None and len(clean["commit"]) == 40 and clean["dirty"] is False
    (tmp_path / "a.txt").write_text("b")
    assert git_state(tmp_path) == {"commit": clean["commit"], "dirty": True}


def test_package_versions_name_missing_packages_none() -> None:
    versions = package_versions(("numpy", "no-such-package-xyz"))
    assert versions["numpy"] and versions["no-such-package-xyz"] is None


def test_the_kaggle_command_is_quoted_for_a_shell() -> None:
    cmd = kaggle_command("digit-recognizer", Path("sub dir/it's.csv"), "run a, val 0.9")
    assert shlex.split(cmd) == [
        "kaggle", "competitions", "submit", "-c", "digit-recognizer",
        "-f", "sub dir/it's.csv", "-m", "run a, val 0.9",
    ]  # fmt: skip


def test_storage_passwords_are_masked() -> None:
    assert (
        mask_url("postgresql://me:secret@db:5432/optuna") == "postgresql://me:***@db:5432/optuna"
    )
    assert mask_url("journal:study.journal") == "journal:study.journal"
    assert mask_url(None) is None
