"""More bad-input cases through the real CLI (issue 13), held to the corpus's rules: exit code
2, one ``error:`` line, no traceback, nothing created or changed (so no run folder left).

- a model that cannot take the images, an embedding stage with nothing to train, batches too
  small for an embedding loss: refused before the run folder exists;
- a sample submission no submission could match (empty or repeated column, rows wider than
  the header): refused by ``tk data check``, not first by ``tk submit``;
- two test files whose names differ only in Unicode normalisation.

Also here: ids in NFC in the CSVs and NFD on disk (as macOS writes them) train and submit,
and the submission spells the ids as the sample does.
"""

from __future__ import annotations

import csv
import unicodedata

import pytest

from tests.corpus import test_bad_input as corpus
from tests.corpus.conftest import Sandbox, write_csv

NFC = unicodedata.normalize("NFC", "café")
NFD = unicodedata.normalize("NFD", "café")
LINEAR = ("--loss", "softmax-ce", "--head", "linear-probe")


def train_with(box: Sandbox, encoder: str, *extra: str) -> list[str]:
    comp = box.warm(box.kaggle())
    return ["train", str(comp), "--encoder", encoder, *extra, "--quiet"]


def sample_rows(box: Sandbox, header: str, suffix: str) -> list[str]:
    """``tk data check`` of a competition whose sample has ``header`` and rows 'id,cat'
    followed by ``suffix``."""
    root = box.kaggle()
    rows = "".join(f"{i},cat{suffix}\n" for i in (7, 8, 9, 10))
    (root / "sample_submission.csv").write_text(f"{header}\n{rows}", encoding="utf-8")
    return corpus.check(root)


def twin_test_files(box: Sandbox) -> list[str]:
    root = box.kaggle()
    (root / "test" / "9.png").rename(root / "test" / f"{NFD}.png")
    (root / "test" / "10.png").rename(root / "test" / f"{NFC}.png")
    rows = [(7, "cat"), (8, "cat"), (NFC, "cat")]
    write_csv(root / "sample_submission.csv", ("id", "label"), rows)
    (root / "test_labels.csv").unlink()
    return corpus.check(root)


CASES = [
    corpus.Case(
        "train-encoder-cannot-take-the-images",
        lambda b: train_with(b, "timm:vit_tiny_patch16_224", *LINEAR),
        "encoder timm:vit_tiny_patch16_224 cannot take this competition's 1x8x8 images",
    ),
    corpus.Case(
        "train-embedding-loss-without-weights",
        lambda b: train_with(b, "pixels", "--loss", "triplet", "--head", "linear-probe"),
        "encoder pixels has no weights for the embedding loss triplet",
    ),
    corpus.Case(
        "train-balanced-batch-too-small",
        lambda b: train_with(
            b, "convnet4", "--loss", "triplet", "--head", "linear-probe", "--set", "batch_size=2"
        ),
        "batch_size=2 is too small for the embedding loss triplet",
    ),
    corpus.Case(
        "sub-sample-trailing-comma-rows",
        lambda b: sample_rows(b, "id,label", ","),
        "sample_submission.csv line 2 has 3 fields but its header 'id,label' has 2",
    ),
    corpus.Case(
        "sub-sample-trailing-empty-column-check",
        lambda b: sample_rows(b, "id,label,", ","),
        "sample_submission.csv has an empty column name (column 3",
    ),
    corpus.Case(
        "sub-sample-repeated-column-check",
        lambda b: sample_rows(b, "id,label,label", ",cat"),
        "sample_submission.csv repeats column 'label'",
    ),
    corpus.Case(
        "kaggle-test-files-equal-up-to-normalisation",
        twin_test_files,
        "differ only in Unicode normalisation",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_fails_cleanly(
    case: corpus.Case, sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus.test_bad_input_fails_cleanly(case, sandbox, capsys)


def test_ids_in_another_normalisation_train_and_submit(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    root = sandbox.kaggle()
    (root / "train" / "1.png").rename(root / "train" / f"{NFD}-1.png")
    (root / "test" / "7.png").rename(root / "test" / f"{NFD}-7.png")
    for name in ("train.csv", "sample_submission.csv", "test_labels.csv"):
        path = root / name
        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace("\n1,", f"\n{NFC}-1,").replace("\n7,", f"\n{NFC}-7,"))
    code, _, err = corpus.run_cli(["train", str(root), "--encoder", "pixels", *LINEAR], capsys)
    assert code == 0, err
    (run,) = list(sandbox.runs.iterdir())
    code, _, err = corpus.run_cli(["submit", "--run", run.name, "--quiet"], capsys)
    assert code == 0, err
    (written,) = sandbox.subs.rglob("*.csv")
    with written.open(encoding="utf-8", newline="") as fh:
        ids = [row[0] for row in csv.reader(fh)][1:]
    assert ids == [f"{NFC}-7", "8", "9", "10"]  # the sample's spelling, in its order
