"""Property: for any sample-submission shape, a valid prediction set written by the toolkit reads
back through pandas (``dtype=str, keep_default_na=False``) exactly as expected, and validates."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit.submit import expected_format, validate_submission
from toolkit.submit.write import write_submission

from ._fakes import fake_competition

# Printable text without the characters CSV gives meaning to (no control/format/separators).
CHARS = st.characters(
    blacklist_categories=("Cc", "Cs", "Cf", "Co", "Cn", "Zl", "Zp"),
    blacklist_characters=',"\r\n',
)
NAMES = st.text(CHARS, min_size=1, max_size=12)  # column names: any printable text
VALUES = st.text(CHARS, min_size=1, max_size=10).filter(lambda s: s.strip() == s)
INTS = st.integers(min_value=-(10**12), max_value=10**12)


def unique(values: st.SearchStrategy, min_size: int, max_size: int) -> st.SearchStrategy:
    return st.lists(values, min_size=min_size, max_size=max_size, unique_by=str)


@settings(max_examples=50, deadline=None)
@given(
    columns=st.lists(NAMES, min_size=2, max_size=2, unique=True),
    ids=st.one_of(unique(INTS, 1, 25), unique(VALUES, 1, 25)),
    classes=st.one_of(unique(INTS, 2, 6), unique(VALUES, 2, 6)).map(sorted),
    with_sample=st.booleans(),
    data=st.data(),
)
def test_written_submissions_round_trip_through_pandas(
    columns: list[str], ids: list, classes: list, with_sample: bool, data: st.DataObject
) -> None:
    picks = data.draw(st.lists(st.sampled_from(classes), min_size=len(ids), max_size=len(ids)))
    id_col, label_col = columns
    with tempfile.TemporaryDirectory() as tmp:
        comp = fake_competition(
            Path(tmp) / "comp",
            ids=ids,
            classes=classes,
            id_column=id_col,
            label_column=label_col,
            sample=with_sample,
        )
        expected = expected_format(comp)
        id_texts = [str(i) for i in ids]
        labels = [str(c) for c in picks]
        assert list(expected.id_texts) == id_texts
        path = Path(tmp) / "out" / "sub.csv"
        write_submission(path, id_texts, labels, expected)

        back = pd.read_csv(path, dtype=str, keep_default_na=False)
        assert list(back.columns) == [id_col, label_col]
        assert back[id_col].tolist() == id_texts
        assert back[label_col].tolist() == labels
        validate_submission(path, comp)
        validate_submission(back, comp)


@settings(max_examples=50, deadline=None)
@given(
    ids=unique(st.integers(0, 999), 1, 20),
    width=st.integers(1, 4),
    data=st.data(),
)
def test_zero_padded_ids_are_written_as_the_sample_writes_them(
    ids: list[int], width: int, data: st.DataObject
) -> None:
    texts = [f"{i:0{width}d}" for i in ids]  # "007": what a typed reader would turn into 7
    labels = data.draw(
        st.lists(st.sampled_from(["3", "10"]), min_size=len(ids), max_size=len(ids))
    )
    with tempfile.TemporaryDirectory() as tmp:
        comp = fake_competition(Path(tmp) / "c", ids=texts, classes=[3, 10], id_texts=texts)
        path = Path(tmp) / "sub.csv"
        write_submission(path, list(expected_format(comp).id_texts), labels, expected_format(comp))
        back = pd.read_csv(path, dtype=str, keep_default_na=False)
        assert back["id"].tolist() == texts and back["label"].tolist() == labels
