"""Fuzz the data loaders and the submission validator: only ToolkitError may escape.

Random bytes stand in for images (``.png``/``.jpg`` in a kaggle-images folder), for a CIFAR
pickle batch and for an ``.npz`` archive; random CSV text stands in for ``train.csv``,
``test.csv`` (pixel-csv), ``sample_submission.csv`` and for a submission given to the
validator. Half of the byte inputs start from a valid file and are truncated or have bytes
overwritten, so the parsers get past their magic numbers and fail deeper.
"""

from __future__ import annotations

import io
import pickle
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from tests.corpus.conftest import Sandbox
from toolkit.data import load_competition
from toolkit.errors import ToolkitError
from toolkit.submit import validate_submission

FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def _png() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8)).save(buf, format="PNG")
    return buf.getvalue()


def _jpg() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8)).save(buf, format="JPEG")
    return buf.getvalue()


def _cifar_batch() -> bytes:
    data = np.arange(4 * 48, dtype=np.uint8).reshape(4, 48)
    return pickle.dumps({b"data": data, b"labels": [0, 1, 2, 0]}, protocol=2)


def _npz() -> bytes:
    buf = io.BytesIO()
    np.savez(
        buf,
        x_train=np.zeros((4, 4, 4), np.uint8),
        y_train=np.array([0, 1, 0, 1]),
        x_test=np.zeros((2, 4, 4), np.uint8),
    )
    return buf.getvalue()


def damaged(valid: bytes) -> st.SearchStrategy[bytes]:
    """Random bytes, or ``valid`` truncated and with a few bytes overwritten."""

    @st.composite
    def mutate(draw: st.DrawFn) -> bytes:
        data = bytearray(valid[: draw(st.integers(0, len(valid)))])
        for _ in range(draw(st.integers(0, 8))):
            if data:
                data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        return bytes(data)

    return st.one_of(st.binary(max_size=600), mutate())


PIXELS = "pixel0,pixel1,pixel2,pixel3"  # a 2x2 pixel-csv header
CELLS = st.one_of(
    st.sampled_from(
        ["1", "7", "8", "9", "10", "cat", "dog", "NaN", "", " 3", "3.0", "id", "label", '"', "é"]
    ),
    st.text(max_size=6),
)


@st.composite
def csv_text(draw: st.DrawFn) -> str:
    """CSV-looking text (ragged rows, quotes, blanks, NaN) or any text at all."""
    if draw(st.booleans()):
        return draw(st.text(max_size=200))
    header = draw(
        st.sampled_from(
            ["id,label", "label,id", "id", "", "id,label,x", "a,a", PIXELS, "label," + PIXELS]
        )
    )
    rows = draw(st.lists(st.lists(CELLS, min_size=0, max_size=4), max_size=12))
    end = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    return end.join([header, *(",".join(r) for r in rows)])


def _only_toolkit_errors(load: object, *args: object, **kwargs: object) -> None:
    try:
        load(*args, **kwargs)  # type: ignore[operator]
    except ToolkitError as err:
        assert "\n" not in str(err)


@FUZZ
@given(
    data=damaged(_png()),
    ext=st.sampled_from(["png", "jpg"]),
    where=st.sampled_from(["train", "test"]),
)
def test_random_bytes_as_an_image(data: bytes, ext: str, where: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        box = Sandbox(Path(tmp), Path(tmp))
        root = box.kaggle()
        victim = root / where / ("2.png" if where == "train" else "8.png")
        victim.unlink()
        victim.with_suffix(f".{ext}").write_bytes(data)
        _only_toolkit_errors(load_competition, root, cache_dir=Path(tmp) / "cache")


@FUZZ
@given(data=damaged(_jpg()))
def test_random_bytes_as_a_jpeg(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        box = Sandbox(Path(tmp), Path(tmp))
        root = box.kaggle()
        (root / "train" / "1.png").unlink()
        (root / "train" / "1.jpg").write_bytes(data)
        _only_toolkit_errors(load_competition, root, cache_dir=Path(tmp) / "cache")


@FUZZ
@given(
    data=damaged(_cifar_batch()),
    victim=st.sampled_from(["data_batch_1", "test_batch", "batches.meta"]),
)
def test_random_bytes_as_a_cifar_pickle(data: bytes, victim: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Sandbox(Path(tmp), Path(tmp)).cifar()
        (root / "cifar-10-batches-py" / victim).write_bytes(data)
        _only_toolkit_errors(load_competition, root, cache_dir=Path(tmp) / "cache")


@FUZZ
@given(data=damaged(_npz()))
def test_random_bytes_as_an_npz(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "arrays"
        root.mkdir()
        (root / "data.npz").write_bytes(data)
        _only_toolkit_errors(load_competition, root, cache_dir=Path(tmp) / "cache")


@FUZZ
@given(
    text=csv_text(),
    target=st.sampled_from(
        [
            ("kaggle", "train.csv"),
            ("kaggle", "sample_submission.csv"),
            ("pixels", "train.csv"),
            ("pixels", "test.csv"),
            ("pixels", "sample_submission.csv"),
        ]
    ),
)
def test_random_csv_text_in_a_competition(text: str, target: tuple[str, str]) -> None:
    layout, victim = target
    with tempfile.TemporaryDirectory() as tmp:
        box = Sandbox(Path(tmp), Path(tmp))
        root = box.kaggle() if layout == "kaggle" else box.pixel_csv(side=2)
        (root / victim).write_text(text, encoding="utf-8")
        _only_toolkit_errors(load_competition, root, cache_dir=Path(tmp) / "cache")


@pytest.fixture(scope="module")
def competition(tmp_path_factory: pytest.TempPathFactory) -> object:
    base = tmp_path_factory.mktemp("fuzz-comp")
    return load_competition(Sandbox(base, base).kaggle(), cache_dir=base / "cache")


@FUZZ
@given(text=csv_text(), raw=st.none() | st.binary(max_size=200))
def test_random_submission_csv(competition: object, text: str, raw: bytes | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "submission.csv"
        if raw is None:
            path.write_text(text, encoding="utf-8")
        else:
            path.write_bytes(raw)
        _only_toolkit_errors(validate_submission, path, competition)
