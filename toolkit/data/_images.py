"""Decode image files into uint8 (N, C, S, S) arrays of one square size, on every core.

Two passes over the files, each split into chunks that worker processes run (this process
runs them for small sets, where starting workers costs more than it saves):

1. headers (:func:`_header_chunk`): the size of every file and whether it is gray, cheap. They
   decide the channels (1 when every image is gray, else 3) and the size policy (``_resize``).
2. pixels (:func:`_decode_chunk`): each image decoded at the planned size (a JPEG in draft
   mode, at reduced scale) and written straight into its row of the output. Given a scratch
   folder (the cache entry being built), the output is a memory-mapped ``.npy`` that each
   worker opens itself: no pixels cross processes and memory holds one image per worker, not
   the data set. Without one, chunks come back and are copied into an in-memory array.
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
from PIL import Image

from toolkit.data._decode import Plan, decode, quiet_bombs, read_header
from toolkit.data._resize import SizeRequest, choose_policy
from toolkit.errors import ToolkitError

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm"}
)
PARALLEL_MIN_IMAGES = 2000  # below this, worker start-up costs more than it saves
_CHUNKS_PER_WORKER = 4  # several chunks per worker so a slow chunk does not stall the rest
_MIN_CHUNK = 64  # images per chunk, so per-task overhead stays small

_Job = tuple[str, str]  # (path to open, name shown in errors)
_Header = tuple[int, int, bool]  # (width, height, gray) as stored, before EXIF orientation
_HeaderResult = tuple[list[_Header] | None, str | None, str]  # (headers, error, first name)
# (pixels (n, C, S, S), or None when written to the output file; error; first name)
_Result = tuple[np.ndarray | None, str | None, str]


def is_image(name: str) -> bool:
    """True for a visible file name with a known image extension (any case)."""
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def list_images(folder: Path) -> list[Path]:
    """Image files directly inside ``folder``, in natural order (2.png before 10.png)."""
    with os.scandir(folder) as entries:
        found = [Path(e.path) for e in entries if is_image(e.name) and e.is_file()]
    return sorted(found, key=lambda p: natural_key(p.name))


def name_key(name: str) -> str:
    """A file name or id as matched: NFC, so ``café`` typed in a CSV (NFC) finds the
    ``café.png`` macOS wrote to disk (NFD); the ids themselves are kept as written."""
    import unicodedata

    return unicodedata.normalize("NFC", name)


def natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that orders digit runs numerically: "img2" < "img10"."""
    parts = re.split(r"(\d+)", text)
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in parts if p)


def decode_train_test(
    train_files: Sequence[Path],
    test_files: Sequence[Path],
    *,
    root: Path,
    workers: int | None,
    request: SizeRequest,
    scratch: Path | None,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """(x_train, x_test, size policy): both sets decoded together at one size (see
    :func:`decode_images`), into ``scratch/x_train.npy`` and ``scratch/x_test.npy``."""
    (x_train, x_test), policy = decode_images(
        [*train_files, *test_files],
        root=root,
        workers=workers,
        request=request,
        scratch=scratch,
        parts=(("x_train", len(train_files)), ("x_test", len(test_files))),
    )
    return x_train, x_test, policy


def decode_images(
    paths: Sequence[Path],
    *,
    root: Path,
    workers: int | None = None,
    request: SizeRequest = SizeRequest(),  # noqa: B008 (frozen, so sharing it is safe)
    scratch: Path | None = None,
    parts: Sequence[tuple[str, int]] = (),
) -> tuple[list[np.ndarray], dict[str, Any]]:
    """Decode ``paths`` (all images of one competition) at one size; return the arrays of
    ``parts`` and the size policy (see :func:`toolkit.data._resize.choose_policy`).

    ``parts``: (name, count) of consecutive runs of ``paths`` (e.g. train then test), each
    returned as its own (count, C, S, S) uint8 array, written to ``scratch/<name>.npy`` when
    ``scratch`` is given (memory-mapped), else in memory; default one part of every path.
    ``workers``: processes to use (default ``os.cpu_count()``; 1 decodes in this process).
    Raises :class:`ToolkitError` naming the file for an unreadable image.
    """
    jobs = [(str(p), _shown(p, root)) for p in paths]
    if not jobs:
        raise ToolkitError(f"no images to decode in {root}; add the image files.")
    parts = parts or (("x", len(jobs)),)
    if sum(count for _, count in parts) != len(jobs):
        raise ValueError("parts must add up to the number of paths")
    n_workers = max(1, workers if workers is not None else (os.cpu_count() or 1))
    if len(jobs) < PARALLEL_MIN_IMAGES:
        n_workers = 1
    chunk = max(_MIN_CHUNK, math.ceil(len(jobs) / (n_workers * _CHUNKS_PER_WORKER)))
    n_workers = min(n_workers, math.ceil(len(jobs) / chunk))
    log.info("decoding %d images with %d process(es)", len(jobs), n_workers)
    with _Pool(n_workers) as pool:
        headers = _headers(pool, jobs, chunk)
        policy = choose_policy(request, np.asarray([h[:2] for h in headers]))
        gray = all(h[2] for h in headers)
        plan = Plan(1 if gray else 3, policy["size"], request.resize, not policy["native"])
        if plan.resample:
            log.info("resizing to %d x %d (%s)", plan.size, plan.size, plan.resize)
        outputs, start = [], 0
        for name, count in parts:
            target = scratch / f"{name}.npy" if scratch is not None and count else None
            outputs.append(_decode_part(pool, jobs[start : start + count], plan, target, chunk))
            start += count
    return outputs, policy


def _headers(pool: _Pool, jobs: list[_Job], chunk: int) -> list[_Header]:
    found: list[_Header] = []
    tasks = [(jobs[i : i + chunk],) for i in range(0, len(jobs), chunk)]
    for headers, error, name in pool.run(_header_chunk, tasks):
        if error is not None or headers is None:
            raise ToolkitError(error or f"cannot read image {name}; replace the file.")
        found += headers
    if len(found) != len(jobs):
        raise ToolkitError("reading the image sizes stopped early; run the command again.")
    return found


def _decode_part(
    pool: _Pool, jobs: list[_Job], plan: Plan, target: Path | None, chunk: int
) -> np.ndarray:
    """(len(jobs), C, S, S) uint8: memory-mapped from ``target`` when given, else in memory."""
    shape = (len(jobs), plan.channels, plan.size, plan.size)
    if target is not None:
        out: np.ndarray = np.lib.format.open_memmap(target, mode="w+", dtype=np.uint8, shape=shape)
    else:
        out = np.empty(shape, dtype=np.uint8)
    file = None if target is None else str(target)
    tasks = [(jobs[i : i + chunk], plan, file, i) for i in range(0, len(jobs), chunk)]
    done = 0
    for (pixels, error, name), task in zip(pool.run(_decode_chunk, tasks), tasks, strict=False):
        if error is not None:
            raise ToolkitError(error)
        if pixels is not None:  # in memory: copy the chunk into place, then let it go
            out[task[3] : task[3] + len(pixels)] = pixels
        done += len(task[0])
        del pixels, name
    if done != len(jobs):
        raise ToolkitError("image decoding stopped early; run the command again.")
    if target is None:
        return out
    del out  # read it back read-only, as a cache hit would (release_pages needs mode "r")
    return np.load(target, mmap_mode="r", allow_pickle=False)


def _header_chunk(jobs: list[_Job]) -> _HeaderResult:
    """Sizes and grayness of one chunk; an error message instead of raising (crosses
    processes)."""
    headers: list[_Header] = []
    with quiet_bombs():
        for path, shown in jobs:
            try:
                headers.append(read_header(path))
            except Exception as err:  # Pillow raises many types on bad files
                return None, _unreadable(err, path, shown), shown
    return headers, None, jobs[0][1]


def _decode_chunk(jobs: list[_Job], plan: Plan, file: str | None, start: int) -> _Result:
    """Decode one chunk into rows ``start...`` of ``file`` (opened here, read-write), or into
    a new array returned to the caller when ``file`` is None."""
    shape = (len(jobs), plan.channels, plan.size, plan.size)
    out = np.load(file, mmap_mode="r+") if file is not None else np.empty(shape, np.uint8)
    offset = start if file is not None else 0
    with quiet_bombs():
        for i, (path, shown) in enumerate(jobs):
            try:
                pixels = decode(path, plan)  # (S, S, C)
            except Exception as err:  # Pillow raises many types on bad files
                return None, _unreadable(err, path, shown), shown
            out[offset + i] = np.moveaxis(pixels, 2, 0)
    return (None if file is not None else out), None, jobs[0][1]


def _unreadable(err: Exception, path: str, shown: str) -> str:
    if isinstance(err, Image.DecompressionBombError):
        return (
            f"cannot read image {shown}: it has more pixels than Pillow's safety limit "
            f"({2 * (Image.MAX_IMAGE_PIXELS or 0)}; a possible decompression bomb); replace it "
            "with a smaller image, or raise PIL.Image.MAX_IMAGE_PIXELS if you trust the file."
        )
    reason = " ".join(str(err).replace(path, shown).split()) or type(err).__name__
    return f"cannot read image {shown}: {reason}; replace or remove it."


class _Pool:
    """Worker processes shared by both passes, started on first use; runs tasks in this
    process when one worker is asked for or processes are unavailable."""

    def __init__(self, n_workers: int) -> None:
        self.n_workers = n_workers
        self._executor: Any = None
        self._broken = False

    def __enter__(self) -> _Pool:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def run(self, func: Callable[..., Any], tasks: list[tuple[Any, ...]]) -> Iterator[Any]:
        """``func(*task)`` for each task, in order; stops after a result whose error (item
        1) is set. Each result is let go once yielded: a done future keeps its result, so
        holding them all would keep every decoded chunk alive to the end."""
        from concurrent.futures.process import BrokenProcessPool

        if self.n_workers <= 1 or len(tasks) <= 1 or self._broken:
            yield from _here(func, tasks)
            return
        try:
            pool = self._start()
            futures = [pool.submit(func, *task) for task in tasks]
        except (OSError, BrokenProcessPool) as err:  # e.g. no /dev/shm in a sandbox
            log.warning("worker processes unavailable (%s); decoding in this process", err)
            self._broken = True
            yield from _here(func, tasks)
            return
        pending: list[Any] = list(futures)
        del futures
        try:
            for i in range(len(pending)):
                future, pending[i] = pending[i], None
                try:
                    result = future.result()
                except BrokenProcessPool as err:
                    log.warning("a worker process died (%s); decoding the rest here", err)
                    self._broken = True
                    yield from _here(func, tasks[i:])
                    return
                del future
                failed = result[1] is not None
                yield result
                del result
                if failed:
                    return
        finally:
            for future in pending:
                if future is not None:
                    future.cancel()

    def _start(self) -> Any:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        if self._executor is None:
            # fork: no re-import of the caller's __main__ (works from scripts and notebooks).
            ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else None
            self._executor = ProcessPoolExecutor(max_workers=self.n_workers, mp_context=ctx)
        return self._executor


def _here(func: Callable[..., Any], tasks: list[tuple[Any, ...]]) -> Iterator[Any]:
    for task in tasks:
        result = func(*task)
        yield result
        if result[1] is not None:
            return


def _shown(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)
