"""The bad-input corpus: every case runs the real CLI and must fail cleanly.

Each case builds its inputs in a sandbox (tiny generated images, or a committed text file from
``files/``), runs ``toolkit.cli.main(argv)`` in-process and asserts: exit code 2, stderr is
exactly one line ``error: ...`` naming the problem, no traceback, and not one file or folder
created or changed anywhere in the sandbox (competition folders, runs, studies, submissions,
data cache, working directory).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tests.corpus.conftest import Sandbox, snapshot, write_csv, write_image
from toolkit.cli import main


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[Sandbox], list[str]]  # makes the inputs, returns the tk arguments
    expect: str  # a substring of the one error line


# -- small helpers for the table ---------------------------------------------------------------


def check(path: Path) -> list[str]:
    return ["data", "check", str(path), "--quiet"]


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (old, text)
    path.write_text(text.replace(old, new, 1))


def broken(make: Callable[[Sandbox], Path], breakage: Callable[[Path], object]) -> Callable:
    """A ``tk data check`` case: build a valid competition, then break it."""

    def build(box: Sandbox) -> list[str]:
        root = make(box)
        breakage(root)
        return check(root)

    return build


def truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def garbage(path: Path, n: int = 64) -> None:
    path.write_bytes(np.random.default_rng(1).integers(0, 256, n, np.uint8).tobytes())


def rewrite_labels(root: Path, labels: list[str]) -> None:
    write_csv(root / "train.csv", ("id", "label"), list(enumerate(labels, start=1)))


def kaggle(box: Sandbox) -> Path:
    return box.kaggle()


def tune(box: Sandbox, study: str, *extra: str) -> list[str]:
    return ["tune", str(box.file(study)), str(box.kaggle()), "--quiet", *extra]


def study_new_over_an_edit(box: Sandbox) -> list[str]:
    """``tk study new mine`` where studies/mine.toml already holds the user's edits."""
    box.studies.mkdir()
    (box.studies / "mine.toml").write_text("# my edits\n")
    return ["study", "new", "mine", "--from", "finetune"]


def train(box: Sandbox, *extra: str) -> list[str]:
    comp = box.warm(box.kaggle())
    plugins = ["--encoder", "pixels", "--loss", "softmax-ce", "--head", "linear-probe"]
    return ["train", str(comp), *plugins, "--quiet", *extra]


def validate(box: Sandbox, csv_name: str) -> list[str]:
    return ["submit", "validate", str(box.file(csv_name)), str(box.warm(box.kaggle()))]


def planted_pickle(box: Sandbox) -> list[str]:
    """A run whose checkpoint.safetensors is really a pickle that would run code."""
    run_id = box.run()
    import json

    record = json.loads((box.runs / run_id / "run.json").read_text())
    box.warm(Path(record["competition_path"]))
    box.dump(box.runs / run_id / "checkpoint.safetensors", _Boom())
    return ["submit", "--run", run_id]


class _Boom:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        import os

        return os.system, ("touch /tmp/toolkit-corpus-pwned",)


def no_checkpoint(box: Sandbox) -> list[str]:
    run_id = box.run()
    for name in ("checkpoint.safetensors", "checkpoint.json"):
        (box.runs / run_id / name).unlink()
    return ["submit", "--run", run_id, "--competition", str(box.warm(box.kaggle()))]


def other_competition(box: Sandbox) -> list[str]:
    three = box.warm(box.kaggle("three", classes=("cat", "cow", "dog")))
    return ["submit", "--run", box.run(), "--competition", str(three)]


def with_sample(
    box: Sandbox,
    header: list[str],
    value: str,
    *extra: str,
    classes: tuple[str, ...] = ("cat", "dog"),
    warm: bool = True,
) -> list[str]:
    """``tk train`` on a competition whose sample_submission.csv has ``header`` and
    ``value`` in every value cell, loaded once before (the error comes after the load) unless
    ``warm`` is False (the load itself refuses the sample)."""
    root = box.kaggle("sample", classes=classes)
    ids = [line.split(",")[0] for line in (root / "test_labels.csv").read_text().splitlines()[1:]]
    write_csv(
        root / "sample_submission.csv", header, [[i] + [value] * (len(header) - 1) for i in ids]
    )
    if warm:
        box.warm(root)
    plugins = ["--encoder", "pixels", "--loss", "softmax-ce", "--head", "linear-probe"]
    return ["train", str(root), *plugins, "--quiet", *extra]


def score_label_file_by_log_loss(box: Sandbox) -> list[str]:
    """A label submission scored with --metric log_loss (it needs probabilities)."""
    root = box.kaggle()
    sub = box.file("sub_valid.csv")
    return ["score", str(sub), "--answers", str(root / "test_labels.csv"), "--metric", "log_loss"]


# -- the corpus --------------------------------------------------------------------------------

CASES = [
    # kaggle-images ------------------------------------------------------------------------------
    Case(
        "kaggle-truncated-png",
        broken(kaggle, lambda r: truncate(r / "train" / "2.png")),
        "cannot read image train/2.png",
    ),
    Case(
        "kaggle-random-bytes-jpg",
        broken(kaggle, lambda r: garbage((r / "test" / "8.png").rename(r / "test" / "8.jpg"))),
        "cannot read image test/8.jpg",
    ),
    Case(
        "kaggle-zero-byte-image",
        broken(kaggle, lambda r: (r / "train" / "3.png").write_bytes(b"")),
        "cannot read image train/3.png",
    ),
    Case(
        "kaggle-decompression-bomb",
        broken(kaggle, lambda r: write_bytes(r / "train" / "2.png", png_header(30000, 30000))),
        "train/2.png",
    ),
    Case(
        "kaggle-label-nan",
        broken(kaggle, lambda r: rewrite_labels(r, ["cat", "dog", "NaN", "dog", "cat", "dog"])),
        "train.csv line 4: label in 'label' is empty or NaN",
    ),
    Case(
        "kaggle-label-empty",
        broken(kaggle, lambda r: rewrite_labels(r, ["cat", "dog", "cat", "", "cat", "dog"])),
        "train.csv line 5: label in 'label' is empty or NaN",
    ),
    Case(
        "kaggle-id-with-space",
        broken(kaggle, lambda r: edit(r / "train.csv", "\n3,", "\n3 ,")),
        "id '3 ' has leading/trailing spaces",
    ),
    Case(
        "kaggle-id-inner-space-no-image",
        broken(kaggle, lambda r: edit(r / "train.csv", "\n3,", "\nimg 3,")),
        "train.csv lists 1 ids with no image in train/ (img 3)",
    ),
    Case(
        "kaggle-duplicate-train-ids",
        broken(kaggle, lambda r: edit(r / "train.csv", "\n3,", "\n2,")),
        "train.csv has duplicate ids in 'id': 2",
    ),
    Case(
        "kaggle-duplicate-test-ids",
        broken(kaggle, lambda r: edit(r / "sample_submission.csv", "\n8,", "\n7,")),
        "sample_submission.csv has duplicate ids in 'id': 7",
    ),
    Case(
        "kaggle-test-extra-file",
        broken(kaggle, lambda r: write_image(r / "test" / "99.png", np.zeros((8, 8), np.uint8))),
        "1 images in test/ are not in sample_submission.csv (99.png)",
    ),
    Case(
        "kaggle-test-missing-file",
        broken(kaggle, lambda r: (r / "test" / "10.png").unlink()),
        "sample_submission.csv lists 1 ids with no image in test/ (10)",
    ),
    Case(
        "kaggle-one-class",
        broken(kaggle, lambda r: rewrite_labels(r, ["cat"] * 6)),
        "train.csv has a single class ('cat')",
    ),
    Case(
        "kaggle-zero-byte-train-csv",
        broken(kaggle, lambda r: (r / "train.csv").write_bytes(b"")),
        "train.csv is empty",
    ),
    Case(
        "kaggle-train-csv-not-utf8",
        broken(kaggle, lambda r: (r / "train.csv").write_bytes(b"id,label\n1,caf\xe9\n")),
        "train.csv: 'utf-8' codec can't decode byte 0xe9",
    ),
    Case(
        "kaggle-no-sample-submission",
        broken(kaggle, lambda r: (r / "sample_submission.csv").unlink()),
        "missing sample_submission.csv",
    ),
    Case(
        "kaggle-answer-key-unknown-label",
        broken(kaggle, lambda r: edit(r / "test_labels.csv", "dog", "cow")),
        "test_labels.csv has labels that are not training classes: cow",
    ),
    # image-folder -------------------------------------------------------------------------------
    Case(
        "folder-one-class",
        lambda box: check(box.folder(classes=("ants",))),
        "at least 2 classes",
    ),
    Case(
        "folder-truncated-png",
        broken(lambda box: box.folder(), lambda r: truncate(r / "train" / "bees" / "bees1.png")),
        "cannot read image train/bees/bees1.png",
    ),
    Case(
        "folder-zero-byte-test-image",
        broken(lambda box: box.folder(), lambda r: (r / "test" / "img1.png").write_bytes(b"")),
        "cannot read image test/img1.png",
    ),
    Case(
        "folder-loose-train-image",
        broken(
            lambda box: box.folder(),
            lambda r: shutil.copy(r / "train" / "ants" / "ants0.png", r / "train" / "stray.png"),
        ),
        "train/stray.png is not inside a class folder",
    ),
    Case(
        "folder-test-without-images",
        broken(lambda box: box.folder(), lambda r: [p.unlink() for p in (r / "test").iterdir()]),
        "holds no images",
    ),
    Case(
        "folder-test-extra-file",
        broken(
            lambda box: box.folder(),
            lambda r: write_csv(r / "sample_submission.csv", ("id", "label"), [("img0", "ants")]),
        ),
        "2 images in test/ are not in sample_submission.csv (img1, img2)",
    ),
    # cifar-python --------------------------------------------------------------------------------
    Case(
        "cifar-wrong-pickle-keys",
        broken(
            lambda box: box.cifar(),
            lambda r: Sandbox.dump(
                r / "cifar-10-batches-py" / "data_batch_1",
                {b"pixels": np.zeros((2, 48), np.uint8), b"labels": [0, 1]},
            ),
        ),
        "CIFAR batch data_batch_1 has keys labels, pixels; expected 'data' and 'labels'",
    ),
    Case(
        "cifar-truncated-pickle",
        broken(
            lambda box: box.cifar(), lambda r: truncate(r / "cifar-10-batches-py" / "test_batch")
        ),
        "cannot read CIFAR batch test_batch",
    ),
    Case(
        "cifar-zero-byte-batch",
        broken(
            lambda box: box.cifar(),
            lambda r: (r / "cifar-10-batches-py" / "data_batch_1").write_bytes(b""),
        ),
        "cannot read CIFAR batch data_batch_1",
    ),
    Case(
        "cifar-pickle-that-runs-code",
        broken(
            lambda box: box.cifar(),
            lambda r: Sandbox.dump(r / "cifar-10-batches-py" / "test_batch", _Boom()),
        ),
        "refusing to load",
    ),
    Case(
        "cifar-label-count-mismatch",
        broken(
            lambda box: box.cifar(),
            lambda r: Sandbox.dump(
                r / "cifar-10-batches-py" / "data_batch_1",
                {b"data": np.zeros((4, 48), np.uint8), b"labels": [0, 1, 2]},
            ),
        ),
        "CIFAR batch data_batch_1 has 4 images but 3 labels",
    ),
    Case(
        "cifar-meta-without-names",
        broken(
            lambda box: box.cifar(),
            lambda r: Sandbox.dump(r / "cifar-10-batches-py" / "batches.meta", {b"names": []}),
        ),
        "batches.meta has no 'label_names' list",
    ),
    # pixel-csv -----------------------------------------------------------------------------------
    Case(
        "pixel-csv-non-square",
        lambda box: check(
            write_csv(
                box.pixel_csv(side=3) / "train.csv",
                ["label", *(f"pixel{i}" for i in range(10))],
                [[i % 2, *range(10)] for i in range(4)],
            ).parent
        ),
        "train.csv: pixel count 10 is not a square",
    ),
    Case(
        "pixel-csv-label-nan",
        broken(lambda box: box.pixel_csv(), lambda r: edit(r / "train.csv", "\n1,", "\nnan,")),
        "train.csv line 3: label in 'label' is empty or NaN",
    ),
    Case(
        "pixel-csv-bad-cell",
        broken(
            lambda box: box.pixel_csv(),
            lambda r: edit(
                r / "test.csv",
                "\n",
                "\nabc",
            ),
        ),
        "cannot parse test.csv",
    ),
    Case(
        "pixel-csv-test-columns-differ",
        broken(
            lambda box: box.pixel_csv(),
            lambda r: edit(r / "test.csv", "pixel0,", "pixel9,"),
        ),
        "test.csv does not have the same pixel columns as train.csv",
    ),
    Case(
        "pixel-csv-negative-pixel",
        broken(lambda box: box.pixel_csv(), lambda r: edit(r / "train.csv", "\n0,", "\n0,-5")),
        "negative pixel values",
    ),
    Case(
        "pixel-csv-sample-count-mismatch",
        broken(
            lambda box: box.pixel_csv(), lambda r: edit(r / "sample_submission.csv", "3,0\n", "")
        ),
        "sample_submission.csv has 2 ids but test.csv has 3 rows",
    ),
    # npz -----------------------------------------------------------------------------------------
    Case(
        "npz-missing-keys",
        lambda box: check(box.npz(x_test=None)),
        "data.npz lacks x_test",
    ),
    Case(
        "npz-zero-byte",
        broken(lambda box: box.npz(), lambda r: (r / "data.npz").write_bytes(b"")),
        "data.npz is not an .npz (zip) archive",
    ),
    Case(
        "npz-corrupt-zip",
        broken(lambda box: box.npz(), lambda r: truncate(r / "data.npz", 0.6)),
        "data.npz",
    ),
    Case(
        "npz-non-square",
        lambda box: check(box.npz(x_train=np.zeros((6, 4, 5), np.uint8))),
        "x_train has shape (6, 4, 5)",
    ),
    Case(
        "npz-label-count",
        lambda box: check(box.npz(y_train=np.array([0, 1, 0]))),
        "y_train has shape (3,) but there are 6 images",
    ),
    Case(
        "npz-nan-labels",
        lambda box: check(box.npz(y_train=np.array([0, 1, np.nan, 1, 0, 1]))),
        "y_train holds non-integer or NaN numbers",
    ),
    Case(
        "npz-object-array",
        lambda box: check(box.npz(y_train=np.array([{}, None, 1, 2, 3, 4], dtype=object))),
        "y_train holds Python objects",
    ),
    Case(
        "npz-duplicate-test-ids",
        lambda box: check(box.npz(test_ids=np.array(["a", "a"]))),
        "test_ids has duplicate ids",
    ),
    Case(
        "npz-one-class",
        lambda box: check(box.npz(y_train=np.zeros(6, np.int64))),
        "at least 2 classes",
    ),
    # any folder ----------------------------------------------------------------------------------
    Case("missing-folder", lambda box: check(box.root / "nope"), "nope does not exist"),
    Case(
        "unrecognised-layout",
        lambda box: check(write_csv(box.root / "stuff" / "notes.csv", ["a"], [[1]]).parent),
        "is not a recognised competition layout",
    ),
    # the validation split ------------------------------------------------------------------------
    Case(
        "train-class-with-single-image",
        lambda box: [
            "train",
            str(box.warm(box.kaggle(labels=["cat", "dog", "cat", "dog", "cat", "bird"]))),
            *("--encoder", "pixels", "--loss", "softmax-ce", "--head", "linear-probe"),
            "--quiet",
        ],
        "classes bird have a single image",
    ),
    # study files ---------------------------------------------------------------------------------
    Case(
        "study-syntax-error",
        lambda box: tune(box, "study_syntax_error.toml"),
        "study_syntax_error.toml is not valid TOML",
    ),
    Case(
        "study-unknown-plugin",
        lambda box: tune(box, "study_unknown_plugin.toml"),
        "unknown encoder 'pixelz'",
    ),
    Case(
        "study-unknown-parameter",
        lambda box: tune(box, "study_unknown_parameter.toml"),
        "unknown parameter 'learning_rate'",
    ),
    Case(
        "study-unknown-plugin-parameter",
        lambda box: tune(box, "study_unknown_plugin_parameter.toml"),
        "encoder 'pixels' has no parameter 'depth'",
    ),
    Case(
        "study-empty-range",
        lambda box: tune(box, "study_empty_range.toml"),
        "search range for 'head_lr' is empty or inverted",
    ),
    Case(
        "study-inverted-range",
        lambda box: tune(box, "study_inverted_range.toml"),
        "search range for 'head_batch_size' is empty or inverted (low=256, high=16)",
    ),
    Case(
        "study-negative-budget",
        lambda box: tune(box, "study_negative_budget.toml"),
        "budget must be >= 0 seconds",
    ),
    Case(
        "study-negative-trials",
        lambda box: tune(box, "study_negative_trials.toml"),
        "trials must be at least 1, got -3",
    ),
    Case(
        "study-no-pipelines",
        lambda box: tune(box, "study_no_pipelines.toml"),
        "no [[pipelines]]",
    ),
    Case(
        "study-file-missing",
        lambda box: ["tune", str(box.root / "nope.toml"), str(box.kaggle())],
        "nope.toml does not exist",
    ),
    Case(
        "study-name-unknown",
        lambda box: ["tune", "nosuch", str(box.kaggle())],
        "study file nosuch does not exist",
    ),
    Case(  # in a folder with no data/: tk run must not make data/digits and leave it
        "study-run-unknown-study",
        lambda box: ["run", "--study", "nosuch", "--quiet"],
        "study file nosuch does not exist",
    ),
    Case("study-new-exists", study_new_over_an_edit, "studies/mine.toml already exists"),
    Case(
        "study-new-bad-name",
        lambda box: ["study", "new", "../outside"],
        "is not a plain name",
    ),
    Case(
        "tune-bad-timeout",
        lambda box: tune(box, "study_empty_range.toml", "--timeout", "soon"),
        "cannot read duration 'soon'",
    ),
    # CLI arguments -------------------------------------------------------------------------------
    Case("runs-show-unknown-run", lambda box: ["runs", "show", "nosuch"], "unknown run 'nosuch'"),
    Case(
        "submit-unknown-run",
        lambda box: ["submit", "--run", "nosuch"],
        "unknown run 'nosuch'",
    ),
    Case(
        "study-show-unknown-study",
        lambda box: ["study", "show", "nosuch"],
        "unknown study 'nosuch'",
    ),
    Case(
        "study-show-unknown-study-in-journal",
        lambda box: ["study", "show", "nosuch", "--storage", str(box.root / "other.journal")],
        "unknown study 'nosuch'",
    ),
    Case(
        "submit-unknown-study",
        lambda box: ["submit", "--study", "nosuch"],
        "unknown study 'nosuch'",
    ),
    Case("submit-missing-checkpoint", no_checkpoint, "has no usable checkpoint"),
    Case(
        "submit-checkpoint-of-another-competition",
        other_competition,
        "predicts 2 classes (cat, dog) but competition three has 3",
    ),
    Case("submit-planted-pickle-checkpoint", planted_pickle, "it is not a safetensors file"),
    Case(
        "train-init-from-planted-pickle",
        lambda box: train(
            box,
            "--head",
            "finetune",
            "--set",
            f"head.init_from={write_pickle(box.root / 'weights.safetensors')}",
        ),
        "it is not a safetensors file",
    ),
    Case(
        "train-init-from-unknown-run",
        lambda box: train(box, "--head", "finetune", "--set", "head.init_from=nosuch"),
        "unknown run 'nosuch'",
    ),
    Case(
        "study-list-missing-journal",
        lambda box: ["study", "list", "--storage", str(box.root / "none.journal")],
        "no study storage at",
    ),
    Case(
        "study-plot-unknown-study",
        lambda box: ["study", "plot", "nosuch", "--out", str(box.root / "plots")],
        "unknown study 'nosuch'",
    ),
    Case(
        "tune-broken-competition",
        lambda box: [
            "tune",
            str(box.file("study_valid.toml")),
            str(broken(kaggle, lambda r: (r / "train" / "1.png").write_bytes(b""))(box)[2]),
            "--quiet",
        ],
        "cannot read image train/1.png",
    ),
    Case(
        "train-set-without-equals",
        lambda box: train(box, "--set", "lr"),
        "--set expects key=value",
    ),
    Case(
        "train-set-unknown-key",
        lambda box: train(box, "--set", "lrate=0.1"),
        "unknown setting 'lrate'",
    ),
    Case(
        "train-set-wrong-type",
        lambda box: train(box, "--set", "epochs=many"),
        "setting 'epochs' must be a finite float, got 'many'",
    ),
    Case(
        "train-set-unknown-plugin-parameter",
        lambda box: train(box, "--set", "head.depth=2"),
        "has no parameter 'depth'",
    ),
    Case(
        "train-set-out-of-range",
        lambda box: train(box, "--set", "val_fraction=1.5"),
        "val_fraction must be in [0, 1)",
    ),
    Case(
        "train-set-plugin-parameter-type",
        lambda box: train(box, "--set", "loss.label_smoothing=abc"),
        "parameter label_smoothing must be a finite number, got 'abc'",
    ),
    Case(
        "train-set-plugin-parameter-word",
        lambda box: train(box, "--encoder", "fastnet", "--set", "encoder.width=wide"),
        "parameter width must be a finite number, got 'wide'",
    ),
    Case(
        "train-set-negative-threads",
        lambda box: train(box, "--set", "threads=-1"),
        "threads must be >= 0",
    ),
    Case(
        "train-set-negative-eval-every",
        lambda box: train(box, "--set", "eval_every=-1"),
        "eval_every must be >= 0",
    ),
    Case(
        "train-set-huge-value",
        lambda box: train(box, "--set", "lr=" + "1" * 100_000),
        "characters long",
    ),
    Case(
        "study-plugin-parameter-type",
        lambda box: tune(box, "study_plugin_parameter_type.toml"),
        "parameter label_smoothing must be a finite number",
    ),
    Case(
        "train-budget-unreadable",
        lambda box: train(box, "--budget", "abc"),
        "cannot read duration",
    ),
    Case(
        "train-budget-negative",
        lambda box: train(box, "--budget", "-5m"),
        "duration must be positive",
    ),
    Case(
        "train-unknown-encoder",
        lambda box: ["train", str(box.warm(box.kaggle())), "--encoder", "resnett", "--quiet"],
        "unknown encoder 'resnett'",
    ),
    # submission CSVs (tk submit validate) --------------------------------------------------------
    Case("sub-wrong-header", lambda b: validate(b, "sub_wrong_header.csv"), "wrong header"),
    Case("sub-wrong-order", lambda b: validate(b, "sub_wrong_order.csv"), "wrong column order"),
    Case(
        "sub-missing-column",
        lambda b: validate(b, "sub_missing_column.csv"),
        "missing column: sub_missing_column.csv lacks column 'label'",
    ),
    Case(
        "sub-extra-column",
        lambda b: validate(b, "sub_extra_column.csv"),
        "extra column: sub_extra_column.csv has column 'score'",
    ),
    Case(
        "sub-duplicate-id",
        lambda b: validate(b, "sub_duplicate_id.csv"),
        "duplicate id: '8' appears on sub_duplicate_id.csv line 3 and again on line 4",
    ),
    Case(
        "sub-missing-id",
        lambda b: validate(b, "sub_missing_id.csv"),
        "missing id: 1 ids of sample_submission.csv have no row (e.g. '10')",
    ),
    Case(
        "sub-extra-id",
        lambda b: validate(b, "sub_extra_id.csv"),
        "extra id: sub_extra_id.csv line 6 has id '11'",
    ),
    Case(
        "sub-unknown-label",
        lambda b: validate(b, "sub_unknown_label.csv"),
        "unknown label: sub_unknown_label.csv line 4 (id '9') has label 'cow'",
    ),
    Case(
        "sub-label-form",
        lambda b: validate(b, "sub_label_form.csv"),
        "label form: sub_label_form.csv line 3 (id '8') has label 'Dog'",
    ),
    Case(
        "sub-empty-value",
        lambda b: validate(b, "sub_empty_value.csv"),
        "empty value: sub_empty_value.csv line 3 has no value in column 'label'",
    ),
    Case(
        "sub-row-width",
        lambda b: validate(b, "sub_row_width.csv"),
        "row width: sub_row_width.csv line 3 has 3 fields",
    ),
    Case(
        "sub-unterminated-quote",
        lambda b: validate(b, "sub_unterminated_quote.csv"),
        "cannot read",
    ),
    Case(
        "sub-zero-byte-file",
        lambda b: [
            "submit",
            "validate",
            str(write_empty(b.root / "empty.csv")),
            str(b.warm(b.kaggle())),
        ],
        "empty file: empty.csv has no header row",
    ),
    Case(
        "sub-not-utf8",
        lambda b: [
            "submit",
            "validate",
            str(write_bytes(b.root / "latin.csv", b"id,label\n7,caf\xe9\n")),
            str(b.warm(b.kaggle())),
        ],
        "latin.csv is not UTF-8 text",
    ),
    Case(
        "sub-without-provenance",
        lambda b: ["submit", "validate", str(b.file("sub_valid.csv"))],
        "sub_valid.csv has no provenance JSON beside it",
    ),
    Case(
        "sub-file-missing",
        lambda b: ["submit", "validate", str(b.root / "nope.csv"), str(b.warm(b.kaggle()))],
        "nope.csv does not exist",
    ),
    Case(
        "sub-sample-ambiguous-fractions",
        lambda b: with_sample(b, ["id", "label"], "0.5", classes=("cat", "cow", "dog")),
        "submission.kind",
    ),
    Case(
        "sub-sample-probability-with-text",
        lambda b: with_sample(b, ["id", "label"], "cat", "--set", "submission.kind=probability"),
        "probability",
    ),
    Case(
        "sub-sample-class-columns-not-classes",
        lambda b: with_sample(b, ["id", "cat", "cow"], "0.5"),
        "cow",
    ),
    Case(
        "sub-sample-trailing-empty-column",
        lambda b: with_sample(b, ["id", "label", ""], "cat", warm=False),
        "sample_submission.csv",
    ),
    Case(
        "sub-sample-repeated-column",
        lambda b: with_sample(b, ["id", "label", "label"], "cat", warm=False),
        "label",
    ),
    Case(
        "train-metric-does-not-fit-labels",
        lambda b: with_sample(b, ["id", "label"], "cat", "--metric", "log_loss"),
        "log_loss",
    ),
    Case(
        "train-metric-unknown",
        lambda b: with_sample(b, ["id", "label"], "cat", "--metric", "logloss"),
        "log_loss",
    ),
    Case(
        "train-qwk-on-text-classes",
        lambda b: with_sample(b, ["id", "label"], "cat", "--metric", "qwk"),
        "qwk",
    ),
    Case(
        "train-top-k-zero",
        lambda b: with_sample(
            b,
            ["id", "label"],
            "cat dog",
            "--set",
            "submission.kind=top-k",
            "--set",
            "submission.k=-1",
        ),
        "submission.k",
    ),
    Case(
        "train-image-size-too-large",
        lambda b: train(b, "--set", "data.image_size=5000"),
        "data.image_size",
    ),
    Case(
        "train-resize-mode-unknown",
        lambda b: train(b, "--set", "data.resize=zoom"),
        "data.resize",
    ),
    Case(
        "sub-score-labels-by-log-loss",
        score_label_file_by_log_loss,
        "log_loss",
    ),
    Case(
        "train-lr-find-unknown-setting",
        lambda b: ["lr-find", str(b.kaggle()), "--set", "nosuch=1", "--quiet"],
        "nosuch",
    ),
    Case(
        "sub-predict-neither-run-nor-study",
        lambda b: ["predict", "nosuch", str(image_folder(b))],
        "neither a run nor a study",
    ),
    Case(
        "sub-predict-unreadable-image",
        lambda b: ["predict", b.run(), str(image_folder(b, bad="broken.png"))],
        "broken.png",
    ),
]


def image_folder(box: Sandbox, bad: str | None = None) -> Path:
    """A folder of two images to predict (and a file that is no image, named ``bad``)."""
    folder = box.root / "new-images"
    for i in range(2):
        write_image(folder / f"{i}.png", box.pixels())
    if bad:
        (folder / bad).write_bytes(b"not an image")
    return folder


def write_pickle(path: Path) -> Path:
    Sandbox.dump(path, _Boom())
    return path


def write_empty(path: Path) -> Path:
    path.write_bytes(b"")
    return path


def png_header(width: int, height: int) -> bytes:
    """A PNG that claims ``width`` x ``height`` pixels (a decompression bomb to Pillow)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grayscale
    idat = zlib.compress(b"\x00" * 16)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``tk ARGV`` in this process: (exit code, stdout, stderr)."""
    capsys.readouterr()  # drop whatever building the case printed
    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_fails_cleanly(
    case: Case, sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = case.build(sandbox)
    before = snapshot(sandbox.root)
    code, out, err = run_cli(argv, capsys)
    after = snapshot(sandbox.root)

    assert code == 2, f"exit code {code}; stderr: {err!r}"
    assert "Traceback" not in err and "Traceback" not in out
    lines = err.splitlines()
    assert len(lines) == 1, f"stderr is not one line: {err!r}"
    assert lines[0].startswith("error: "), lines[0]
    assert case.expect in lines[0], f"{case.expect!r} not in {lines[0]!r}"
    created = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    changed = sorted(p for p in set(before) & set(after) if before[p] != after[p])
    assert not (created or removed or changed), (
        f"files touched: created {created}, removed {removed}, changed {changed}"
    )


def test_the_corpus_is_large_and_covers_every_area() -> None:
    names = [c.name for c in CASES]
    assert len(names) == len(set(names))
    assert len(CASES) >= 30
    for prefix in ("kaggle", "folder", "cifar", "pixel-csv", "npz", "study", "train", "sub"):
        assert any(n.startswith(prefix) for n in names), prefix
    assert not Path("/tmp/toolkit-corpus-pwned").exists()
