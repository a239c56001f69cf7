"""The decoded-array cache: hits skip decoding, changes rebuild, damage is never trusted."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from toolkit.data import _cache, cache_root, load_competition

if TYPE_CHECKING:
    from conftest import Build


def _entries(cache: Path) -> list[Path]:
    return sorted(p for p in (cache / "competitions").iterdir() if not p.name.startswith("."))


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {
        p.relative_to(root).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in root.rglob("*")
    }


def test_second_load_hits_the_cache(build: Build, cache_dir: Path, decodes: list[int]) -> None:
    root = build.kaggle()
    first = load_competition(root)
    second = load_competition(root)
    assert decodes == [10]  # 6 train + 4 test, decoded once
    assert isinstance(second.x_train, np.memmap)
    assert np.array_equal(first.x_train, second.x_train)
    assert np.array_equal(first.x_test, second.x_test)
    assert np.array_equal(first.y_train, second.y_train)
    assert first.y_test is not None and second.y_test is not None
    assert np.array_equal(first.y_test, second.y_test)
    assert (first.classes, first.test_ids) == (second.classes, second.test_ids)
    assert type(second.classes[0]) is str and type(second.test_ids[0]) is int
    assert first.fingerprint == second.fingerprint
    entries = _entries(cache_dir)
    assert len(entries) == 1 and entries[0].name == first.fingerprint


def test_cache_lives_outside_the_competition(build: Build, cache_dir: Path) -> None:
    root = build.kaggle()
    before = _snapshot(root)
    load_competition(root)
    assert _snapshot(root) == before
    assert cache_root() == cache_dir
    assert not cache_dir.resolve().is_relative_to(root.resolve())


def test_changed_mtime_rebuilds_and_prunes_old_entry(
    build: Build, cache_dir: Path, decodes: list[int]
) -> None:
    root = build.kaggle()
    first = load_competition(root)
    image = root / "train" / "1.png"
    st = image.stat()
    os.utime(image, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    second = load_competition(root)
    assert len(decodes) == 2
    assert second.fingerprint != first.fingerprint
    assert [p.name for p in _entries(cache_dir)] == [second.fingerprint]


def test_changed_labels_rebuild(build: Build, decodes: list[int]) -> None:
    root = build.kaggle(answers=False)
    assert load_competition(root).classes == ("cat", "dog")
    csv = root / "train.csv"
    csv.write_text(csv.read_text().replace("dog", "emu"))
    assert load_competition(root).classes == ("cat", "emu")
    assert len(decodes) == 2


def test_adding_an_answer_key_rebuilds(build: Build) -> None:
    root = build.kaggle(answers=False)
    assert not load_competition(root).has_answers
    build.write_csv(root / "test_labels.csv", ["id", "label"], [(i, "cat") for i in range(7, 11)])
    assert load_competition(root).has_answers


def test_refresh_decodes_again(build: Build, decodes: list[int]) -> None:
    root = build.kaggle()
    load_competition(root)
    load_competition(root, refresh=True)
    assert len(decodes) == 2


@pytest.mark.parametrize("damage", ["truncate", "fingerprint", "meta"])
def test_damaged_entry_is_rebuilt(
    build: Build, cache_dir: Path, decodes: list[int], damage: str
) -> None:
    root = build.kaggle()
    first = load_competition(root)
    expected = np.array(first.x_train)  # first.x_train maps the file damaged below
    entry = cache_dir / "competitions" / first.fingerprint
    if damage == "truncate":
        data = (entry / "x_train.npy").read_bytes()
        (entry / "x_train.npy").write_bytes(data[: len(data) // 2])
    elif damage == "fingerprint":
        meta = (entry / "meta.json").read_text()
        (entry / "meta.json").write_text(meta.replace(first.fingerprint, "0" * 64))
    else:
        (entry / "meta.json").write_text("{not json")
    again = load_competition(root)
    assert len(decodes) == 2
    assert np.array_equal(expected, again.x_train)
    assert load_competition(root).fingerprint == first.fingerprint
    assert len(decodes) == 2  # the rebuilt entry is used


def test_an_entry_written_before_train_ids_is_rebuilt_under_the_same_fingerprint(
    build: Build, cache_dir: Path, decodes: list[int]
) -> None:
    root = build.kaggle()
    first = load_competition(root)
    entry = cache_dir / "competitions" / first.fingerprint
    meta = json.loads((entry / "meta.json").read_text())
    old = {k: v for k, v in meta.items() if k not in ("train_ids", "checksum")}
    arrays = {
        name: np.load(entry / f"{name}.npy", mmap_mode="r")
        for name in ("x_train", "y_train", "x_test", "y_test")
    }
    old["checksum"] = _cache.checksum(entry, old, arrays)  # as the older code wrote it
    del arrays
    (entry / "meta.json").write_text(json.dumps(old))
    again = load_competition(root)
    assert again.train_ids == first.train_ids == ("1", "2", "3", "4", "5", "6")
    assert again.fingerprint == first.fingerprint  # runs trained on it still match it
    assert len(decodes) == 2  # rebuilt once ...
    assert [p.name for p in _entries(cache_dir)] == [first.fingerprint]
    assert load_competition(root).train_ids == first.train_ids
    assert len(decodes) == 2  # ... then a cache hit again


def test_read_only_competition_folder(build: Build, cache_dir: Path) -> None:
    root = build.kaggle()
    paths = [root, *root.rglob("*")]
    for p in paths:
        p.chmod(p.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    try:
        comp = load_competition(root)
        assert comp.x_train.shape[0] == 6
        assert len(_entries(cache_dir)) == 1
    finally:
        for p in paths:
            p.chmod(p.stat().st_mode | stat.S_IWUSR)


def test_unwritable_cache_is_skipped(build: Build, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    comp = load_competition(build.kaggle(), cache_dir=blocker)
    assert comp.x_train.shape[0] == 6 and blocker.read_text() == "x"


def test_array_formats_are_cached_too(build: Build, cache_dir: Path) -> None:
    root = build.npz(
        x_train=np.zeros((4, 8, 8), np.uint8),
        y_train=np.array([0, 1, 0, 1]),
        x_test=np.zeros((2, 8, 8), np.uint8),
    )
    load_competition(root)
    assert isinstance(load_competition(root).x_train, np.memmap)


def test_cache_root_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TOOLKIT_CACHE", str(tmp_path / "a"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "b"))
    assert cache_root() == tmp_path / "a"
    monkeypatch.delenv("TOOLKIT_CACHE")
    assert cache_root() == tmp_path / "b" / "toolkit"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_root() == tmp_path / "home" / ".cache" / "toolkit"


def _resident_file_mb() -> float:
    """This process's resident pages of mapped files (RssFile), in MiB."""
    with open("/proc/self/status", encoding="ascii") as f:
        line = next(line for line in f if line.startswith("RssFile:"))
    return int(line.split()[1]) / 1024


needs_proc = pytest.mark.skipif(
    not Path("/proc/self/status").is_file(), reason="reads RssFile from /proc (Linux)"
)


@needs_proc
def test_release_pages_keeps_a_pass_over_the_cache_out_of_memory(tmp_path: Path) -> None:
    from toolkit.data import release_pages

    data = np.arange(40960 * 768, dtype=np.uint32).astype(np.uint8).reshape(-1, 3, 16, 16)
    np.save(tmp_path / "x.npy", data)
    cached = np.load(tmp_path / "x.npy", mmap_mode="r").view()  # as load_competition gives it
    before = _resident_file_mb()
    for start in range(0, len(cached), 4096):
        part = cached[start : start + 4096]
        assert np.array_equal(np.array(part), data[start : start + 4096])
        release_pages(np.asarray(part))  # a plain-ndarray view of the map works too
    assert _resident_file_mb() - before < 4  # without release_pages: 30 MiB
    assert np.array_equal(cached[-5:], data[-5:])  # released pages read back from the file
    for start in range(0, len(cached), 4096):
        np.array(cached[start : start + 4096])
    assert _resident_file_mb() - before > 24  # the control: reading does map the pages


def test_release_pages_leaves_other_arrays_alone(tmp_path: Path) -> None:
    from toolkit.data import release_pages

    np.save(tmp_path / "x.npy", np.zeros((64, 4096), np.uint8))
    copy_on_write = np.load(tmp_path / "x.npy", mmap_mode="c")
    copy_on_write[:] = 7  # private changes: dropping the pages would lose them
    release_pages(copy_on_write)
    release_pages(copy_on_write[10:20])
    assert int(copy_on_write.min()) == 7
    release_pages(np.ones((4, 4), np.uint8))  # in memory: nothing to release
    release_pages(np.load(tmp_path / "x.npy", mmap_mode="r")[:0])
