"""``load_competition``: detect, read (or take from the cache), check, wrap.

Only :class:`ToolkitError` leaves this module: whatever a parser raises on a damaged folder is
turned into one, naming the path, so the CLI can print it on one line.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import TypeVar

import numpy as np

from toolkit.data import _cache, _cifar, _folder, _kaggle, _npz, _pixel_csv
from toolkit.data._competition import Competition, Parsed, check_parsed
from toolkit.data._detect import resolve
from toolkit.data._resize import SizeRequest, fit_arrays, size_request
from toolkit.data._submission import SAMPLE, read_sample
from toolkit.data._tables import preview, typed
from toolkit.errors import ToolkitError

log = logging.getLogger(__name__)
T = TypeVar("T")

# Each reader module has NAME, inputs(source) -> files to fingerprint, and
# load(source, workers=, request=, scratch=) -> Parsed. Readers of image files decode at the
# requested size (into scratch, the cache entry being built, when there is one) and set the
# Parsed's image_policy; the array readers leave it None and fit_arrays resizes after them.
_READERS: dict[str, ModuleType] = {m.NAME: m for m in (_kaggle, _folder, _cifar, _pixel_csv, _npz)}


def detect_format(path: str | Path) -> str:
    """The layout of a competition folder: "kaggle-images", "image-folder", "cifar-python",
    "pixel-csv" or "npz". Raises :class:`ToolkitError` when it is none of them."""
    return _guarded(Path(path).expanduser(), lambda p: resolve(p)[0])


def load_competition(
    path: str | Path,
    *,
    image_size: int = 0,
    resize: str = "crop",
    cache_dir: Path | None = None,
    refresh: bool = False,
    workers: int | None = None,
) -> Competition:
    """Load a competition folder (or .npz) into uint8 (N, C, S, S) arrays plus labels and ids.

    Images of any size, shape and mode become squares of one side S: ``image_size`` (0 =
    automatic: the native size when every image already has one square size, else the median
    shorter side between 8 and ``AUTO_SIZE_CAP``), reached by ``resize``: "crop" (shorter side
    to S, centre crop), "pad" (longer side to S, black bars) or "stretch"; the choice is in
    ``Competition.image_policy``. Decoded arrays are cached under ``cache_dir`` (default
    ``cache_root()/"competitions"``), keyed by the format, the input files' names, sizes and
    mtimes, and (image_size, resize); a second load memory-maps them. ``refresh`` rebuilds
    the cache entry; ``workers`` caps the decoding processes (default: every core). Raises
    :class:`ToolkitError` for a bad setting or anything wrong with the folder; nothing is
    written to the cache unless loading succeeds.
    """
    request = size_request(image_size, resize)
    root = Path(path).expanduser()
    return _guarded(root, lambda p: _load(p, request, cache_dir, refresh, workers))


def _load(
    root: Path,
    request: SizeRequest,
    cache_dir: Path | None,
    refresh: bool,
    workers: int | None,
) -> Competition:
    start = time.perf_counter()
    fmt, source = resolve(root)
    reader = _READERS[fmt]
    base = source if source.is_dir() else source.parent
    inputs = reader.inputs(source)
    sample = root / SAMPLE  # what submissions are written against, whatever the layout
    if sample not in inputs:  # npz, cifar: a sample beside them still shapes the submission
        inputs.append(sample)
    key = _cache.fingerprint(fmt, base, inputs, request)
    entries = cache_dir if cache_dir is not None else _cache.cache_root() / "competitions"
    parsed = None if refresh else _cache.read_entry(entries, key)
    if parsed is not None:
        log.info("loaded %s (%s) from the cache in %.2fs", root, fmt, time.perf_counter() - start)
        return _wrap(parsed, root, fmt, key)
    with _cache.scratch(entries, key) as tmp:
        sample_ids = read_sample(sample) if root.is_dir() and sample.is_file() else None
        parsed = reader.load(source, workers=workers, request=request, scratch=tmp)
        check_parsed(parsed, root)
        if sample_ids is not None:
            parsed = _with_sample_ids(parsed, sample_ids, root)
        if parsed.image_policy is None:
            parsed = fit_arrays(parsed, request)
        if tmp is not None:
            _cache.write_entry(
                entries, key, parsed, fmt=fmt, source=source.resolve(), request=request, tmp=tmp
            )
    log.info("read %s (%s) in %.2fs", root, fmt, time.perf_counter() - start)
    return _wrap(parsed, root, fmt, key)


def _with_sample_ids(parsed: Parsed, sample_ids: list[str], root: Path) -> Parsed:
    """``parsed`` whose test ids are written as the sample writes them: a submission's rows are
    found by ``str(test id)``, so an id the reader typed ("-0" read as 0) keeps its text, and
    a sample listing other ids than the test set is refused now rather than at ``tk submit``."""
    written = [str(t) for t in parsed.test_ids]
    if written == sample_ids:
        return parsed
    if len(written) == len(sample_ids) and typed(sample_ids) == list(parsed.test_ids):
        return dataclasses.replace(parsed, test_ids=tuple(sample_ids))
    if len(written) == len(sample_ids) and set(written) == set(sample_ids):
        return parsed  # the same ids in another order: rows are found by id
    known, listed = set(written), set(sample_ids)
    missing = [t for t in sample_ids if t not in known]
    extra = [t for t in written if t not in listed]
    raise ToolkitError(
        f"{SAMPLE} in {root} lists {len(sample_ids)} ids but the test set has {len(written)}"
        f"{f' (not test ids: {preview(missing)})' if missing else ''}"
        f"{f' (not in the sample: {preview(extra)})' if extra else ''}; list each test id "
        "once, as the test set names it, or remove the sample."
    )


def _wrap(parsed: Parsed, root: Path, fmt: str, key: str) -> Competition:
    absolute = root.resolve()
    return Competition(
        name=absolute.stem if absolute.is_file() else absolute.name,
        root=absolute,
        format=fmt,
        x_train=_read_only(parsed.x_train),
        y_train=_read_only(parsed.y_train),
        classes=tuple(parsed.classes),
        x_test=_read_only(parsed.x_test),
        test_ids=tuple(parsed.test_ids),
        id_column=parsed.id_column,
        label_column=parsed.label_column,
        y_test=None if parsed.y_test is None else _read_only(parsed.y_test),
        fingerprint=key,
        image_policy=dict(parsed.image_policy or {}),
        train_ids=tuple(parsed.train_ids),
    )


def _read_only(array: np.ndarray) -> np.ndarray:
    """A read-only view: fresh and cached (memory-mapped) loads behave the same."""
    view = array.view()
    view.flags.writeable = False
    return view


def _guarded(root: Path, work: Callable[[Path], T]) -> T:
    try:
        return work(root)
    except ToolkitError:
        raise
    except Exception as err:  # never let a parser's exception escape as a traceback
        reason = " ".join(str(err).split()) or "no details"
        raise ToolkitError(
            f"cannot load {root}: {type(err).__name__}: {reason}; check the competition files."
        ) from err
