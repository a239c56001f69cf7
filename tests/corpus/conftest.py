"""The bad-input corpus: a sandbox per case, builders of tiny competitions, a trained run.

Every case runs in its own ``tmp_path``: the working directory, ``$TOOLKIT_CACHE``,
``$TOOLKIT_RUNS``, ``$TOOLKIT_STUDIES`` and ``$TOOLKIT_SUBMISSIONS`` all point inside it, so
one snapshot of that tree shows anything the command created or changed.
"""

from __future__ import annotations

import csv
import hashlib
import os
import pickle
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests._runs import tiny_run

FILES = Path(__file__).parent / "files"  # committed text inputs (TOML, CSV)

Snapshot = dict[str, tuple[int, int, str] | None]  # path -> (size, mtime_ns, sha1); None: folder


def snapshot(root: Path) -> Snapshot:
    """Every file (size, mtime, sha1) and folder under ``root``, by relative path."""
    out: Snapshot = {}
    for dirpath, dirnames, filenames in os.walk(root):
        base = Path(dirpath)
        for d in dirnames:
            out[(base / d).relative_to(root).as_posix() + "/"] = None
        for f in filenames:
            path = base / f
            st = path.lstat()
            digest = hashlib.sha1(path.read_bytes()).hexdigest() if path.is_file() else "link"
            out[path.relative_to(root).as_posix()] = (st.st_size, st.st_mtime_ns, digest)
    return out


def write_image(path: Path, pixels: np.ndarray, fmt: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, format=fmt)
    return path


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[object]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


class Sandbox:
    """Builders of small, valid competitions of each layout (cases then break them)."""

    def __init__(self, root: Path, trained: Path) -> None:
        self.root = root
        self.runs = root / "runs"
        self.studies = root / "studies"
        self.subs = root / "submissions"
        self.cache = root / "cache"
        self._trained = trained
        self.rng = np.random.default_rng(0)

    # -- competitions ------------------------------------------------------------------------
    def pixels(self, size: int = 8, channels: int = 1) -> np.ndarray:
        shape = (size, size) if channels == 1 else (size, size, channels)
        return self.rng.integers(0, 256, shape, dtype=np.uint8)

    def kaggle(
        self,
        name: str = "comp",
        *,
        classes: Sequence[str] = ("cat", "dog"),
        per_class: int = 3,
        n_test: int = 4,
        labels: Sequence[str] | None = None,
    ) -> Path:
        """train ids 1..N (labels cycle through ``classes``), test ids N+1..N+M; with the
        defaults: train 1..6 (cat, dog, ...), test 7..10, as the committed CSVs expect."""
        root = self.root / name
        if labels is None:
            labels = [classes[i % len(classes)] for i in range(per_class * len(classes))]
        train_ids = list(range(1, len(labels) + 1))
        test_ids = list(range(len(labels) + 1, len(labels) + n_test + 1))
        for i in train_ids:
            write_image(root / "train" / f"{i}.png", self.pixels())
        for i in test_ids:
            write_image(root / "test" / f"{i}.png", self.pixels())
        write_csv(root / "train.csv", ("id", "label"), list(zip(train_ids, labels, strict=True)))
        write_csv(root / "sample_submission.csv", ("id", "label"), [(i, "cat") for i in test_ids])
        truth = [classes[i % len(classes)] for i in test_ids]
        write_csv(
            root / "test_labels.csv", ("id", "label"), list(zip(test_ids, truth, strict=True))
        )
        return root

    def folder(self, name: str = "folder", *, classes: Sequence[str] = ("ants", "bees")) -> Path:
        root = self.root / name
        for label in classes:
            for i in range(2):
                write_image(root / "train" / label / f"{label}{i}.png", self.pixels())
        for i in range(3):
            write_image(root / "test" / f"img{i}.png", self.pixels())
        return root

    def cifar(self, name: str = "cifar", *, size: int = 4, n: int = 6) -> Path:
        """cifar-10-batches-py/ with data_batch_1, test_batch and batches.meta."""
        folder = self.root / name / "cifar-10-batches-py"
        folder.mkdir(parents=True)
        names = [b"airplane", b"bird", b"cat"]
        for file in ("data_batch_1", "test_batch"):
            data = self.rng.integers(0, 256, (n, 3 * size * size), dtype=np.uint8)
            self.dump(folder / file, {b"data": data, b"labels": [i % 3 for i in range(n)]})
        self.dump(folder / "batches.meta", {b"label_names": names})
        return self.root / name

    @staticmethod
    def dump(path: Path, obj: object) -> None:
        with path.open("wb") as f:
            pickle.dump(obj, f, protocol=2)

    def pixel_csv(self, name: str = "pixels", *, side: int = 3) -> Path:
        """Digit Recognizer layout: label,pixel0.. / pixel0.. / ImageId,Label."""
        root = self.root / name
        cols = [f"pixel{i}" for i in range(side * side)]
        train = self.rng.integers(0, 256, (6, side * side)).tolist()
        write_csv(root / "train.csv", ["label", *cols], [[i % 2, *r] for i, r in enumerate(train)])
        write_csv(root / "test.csv", cols, self.rng.integers(0, 256, (3, side * side)).tolist())
        write_csv(
            root / "sample_submission.csv", ["ImageId", "Label"], [(i, 0) for i in (1, 2, 3)]
        )
        return root

    def npz(self, name: str = "arrays", **override: np.ndarray | None) -> Path:
        arrays: dict[str, np.ndarray | None] = {
            "x_train": self.rng.integers(0, 256, (6, 4, 4), dtype=np.uint8),
            "y_train": np.array([0, 1, 0, 1, 0, 1]),
            "x_test": self.rng.integers(0, 256, (2, 4, 4), dtype=np.uint8),
        }
        arrays.update(override)
        root = self.root / name
        root.mkdir(parents=True)
        np.savez(root / "data.npz", **{k: v for k, v in arrays.items() if v is not None})
        return root

    # -- other inputs --------------------------------------------------------------------------
    def file(self, name: str) -> Path:
        """A committed corpus file, copied into the sandbox (so it is in the snapshot)."""
        return Path(shutil.copy(FILES / name, self.root / name))

    def warm(self, path: Path) -> Path:
        """Load a valid competition once, so the command under test finds it in the cache
        (a command that fails after a successful load must not count the cache as a write)."""
        from toolkit.data import load_competition

        load_competition(path)
        return path

    def run(self) -> str:
        """A copy of the session's trained run (2 classes: cat, dog) in this sandbox's runs/."""
        target = self.runs / self._trained.name
        shutil.copytree(self._trained, target)
        return target.name


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One tiny run (pixels + softmax-ce + linear probe) on a 2-class competition."""
    from toolkit.data import load_competition

    base = tmp_path_factory.mktemp("corpus-run")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TOOLKIT_CACHE", str(base / "cache"))
        comp = load_competition(Sandbox(base, base).kaggle("alpha", per_class=4))
        path = tiny_run(comp, runs_root=base / "runs", head_epochs=2)
    yield path


@pytest.fixture
def sandbox(
    tmp_path: Path, trained_run: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Sandbox]:
    """A case's whole world inside tmp_path (cwd and every toolkit folder)."""
    box = Sandbox(tmp_path, trained_run)
    monkeypatch.setenv("TOOLKIT_CACHE", str(box.cache))
    monkeypatch.setenv("TOOLKIT_RUNS", str(box.runs))
    monkeypatch.setenv("TOOLKIT_STUDIES", str(box.studies))
    monkeypatch.setenv("TOOLKIT_SUBMISSIONS", str(box.subs))
    monkeypatch.setenv("TOOLKIT_DEBUG", "0")
    monkeypatch.delenv("TOOLKIT_PLUGINS", raising=False)
    monkeypatch.chdir(tmp_path)
    yield box
