"""Decode image files into one uint8 (N, C, H, W) array, on every core.

Files are split into chunks; each chunk is decoded by :func:`_decode_chunk` in a worker process
(in this process for small sets, where starting workers costs more than it saves). Grayscale
images (modes 1/L/LA/I/F, or a palette of grays) give 1 channel, everything else is converted
to RGB; if any image of the set is in colour, the grayscale ones are replicated to 3 channels.
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from toolkit.errors import ToolkitError

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm"}
)
PARALLEL_MIN_IMAGES = 2000  # below this, worker start-up costs more than it saves
_CHUNKS_PER_WORKER = 4  # several chunks per worker so a slow chunk does not stall the rest
_MIN_CHUNK = 64  # images per chunk, so per-task overhead stays small

_Job = tuple[str, str]  # (path to open, name shown in errors)
_Result = tuple[np.ndarray | None, str | None, str]  # (array (n, C, H, W), error, first name)


def is_image(name: str) -> bool:
    """True for a visible file name with a known image extension (any case)."""
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def list_images(folder: Path) -> list[Path]:
    """Image files directly inside ``folder``, in natural order (2.png before 10.png)."""
    with os.scandir(folder) as entries:
        found = [Path(e.path) for e in entries if is_image(e.name) and e.is_file()]
    return sorted(found, key=lambda p: natural_key(p.name))


def natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that orders digit runs numerically: "img2" < "img10"."""
    parts = re.split(r"(\d+)", text)
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in parts if p)


def decode_images(paths: Sequence[Path], *, root: Path, workers: int | None = None) -> np.ndarray:
    """Decode ``paths`` (all of one competition) into one (N, C, H, W) uint8 array.

    ``workers``: processes to use (default ``os.cpu_count()``; 1 decodes in this process).
    Raises :class:`ToolkitError` naming the file for an unreadable image, mixed sizes or a
    non-square image.
    """
    jobs = [(str(p), _shown(p, root)) for p in paths]
    if not jobs:
        raise ToolkitError(f"no images to decode in {root}; add the image files.")
    n_workers = max(1, workers if workers is not None else (os.cpu_count() or 1))
    if len(jobs) < PARALLEL_MIN_IMAGES:
        n_workers = 1
    size = max(_MIN_CHUNK, math.ceil(len(jobs) / (n_workers * _CHUNKS_PER_WORKER)))
    chunks = [jobs[i : i + size] for i in range(0, len(jobs), size)]
    n_workers = min(n_workers, len(chunks))
    log.info("decoding %d images with %d process(es)", len(jobs), n_workers)
    results = _in_pool(chunks, n_workers) if n_workers > 1 else iter(map(_decode_chunk, chunks))
    try:
        return _assemble(results, len(jobs))
    finally:
        close = getattr(results, "close", None)
        if close is not None:  # stop the pool now, not when the generator is collected
            close()


def _in_pool(chunks: list[list[_Job]], n_workers: int) -> Iterator[_Result]:
    """Decode chunks in worker processes, yielding results in order; stop early on an error."""
    import multiprocessing as mp
    from concurrent.futures import Future, ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    # fork: no re-import of the caller's __main__ (works from scripts and notebooks alike).
    methods = mp.get_all_start_methods()
    ctx = mp.get_context("fork") if "fork" in methods else None
    try:
        pool = ProcessPoolExecutor(max_workers=n_workers, mp_context=ctx)
        futures: list[Future[_Result] | None] = [pool.submit(_decode_chunk, c) for c in chunks]
    except (OSError, BrokenProcessPool) as err:  # e.g. no /dev/shm in a sandbox
        log.warning("worker processes unavailable (%s); decoding in this process", err)
        yield from map(_decode_chunk, chunks)
        return
    try:
        for i in range(len(futures)):
            # Let go of each future once read: a done future keeps its result, so holding them
            # all would keep every decoded chunk alive to the end (twice the output's memory).
            future, futures[i] = futures[i], None
            assert future is not None
            try:
                result = future.result()
            except BrokenProcessPool as err:
                log.warning("a worker process died (%s); decoding the rest in this process", err)
                yield from map(_decode_chunk, chunks[i:])
                return
            del future
            yield result
            if result[1] is not None:
                return
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _assemble(results: Iterator[_Result], total: int) -> np.ndarray:
    """Check chunk sizes against each other and copy each chunk into place as it arrives, so
    memory holds the output plus one chunk."""
    out: np.ndarray | None = None
    first_name = ""
    start = 0
    for array, error, name in results:
        if error is not None or array is None:
            raise ToolkitError(error or f"cannot decode {name}; replace the file.")
        if out is None:
            out = np.empty((total, *array.shape[1:]), dtype=np.uint8)  # (N, C, H, W)
            first_name = name
        elif array.shape[2:] != out.shape[2:]:
            raise ToolkitError(_mixed(name, array.shape[2:], first_name, out.shape[2:]))
        elif array.shape[1] > out.shape[1]:  # first colour chunk after grayscale ones
            rgb = np.empty((total, array.shape[1], *out.shape[2:]), dtype=np.uint8)
            rgb[:start] = out[:start]  # grayscale replicated to every channel
            out = rgb
        out[start : start + len(array)] = array  # a 1-channel chunk broadcasts to 3 channels
        start += len(array)
    if out is None or start != total:
        raise ToolkitError("image decoding stopped early; run the command again.")
    return out


def _decode_chunk(jobs: list[_Job]) -> _Result:
    """Decode one chunk; return an error message instead of raising (crosses processes)."""
    arrays: list[np.ndarray] = []
    for path, shown in jobs:
        try:
            arr = _decode_one(path)  # (H, W, C)
        except Exception as err:  # Pillow raises many types on bad files; all mean "unreadable"
            reason = " ".join(str(err).replace(path, shown).split()) or type(err).__name__
            return None, f"cannot read image {shown}: {reason}; replace or remove it.", shown
        h, w = arr.shape[:2]
        if h != w:
            error = f"images must be square but {shown} is {w}x{h} (width x height); crop or pad"
            return None, error + " the images to squares.", shown
        if arrays and arr.shape[:2] != arrays[0].shape[:2]:
            return None, _mixed(shown, arr.shape[:2], jobs[0][1], arrays[0].shape[:2]), shown
        arrays.append(arr)
    h, w = arrays[0].shape[:2]
    channels = max(a.shape[2] for a in arrays)
    out = np.empty((len(arrays), channels, h, w), dtype=np.uint8)  # (n, C, H, W)
    for i, arr in enumerate(arrays):
        out[i] = np.moveaxis(arr, 2, 0)
    return out, None, jobs[0][1]


def _decode_one(path: str) -> np.ndarray:
    """One image as uint8 (H, W, 1) for grayscale or (H, W, 3) for colour."""
    with Image.open(path) as im:
        im.load()
        mode = im.mode
        if im.width < 1 or im.height < 1:
            raise ValueError("image has no pixels")
        if mode in ("1", "L", "LA", "La") or (mode == "P" and _gray_palette(im)):
            return np.asarray(im.convert("L"))[:, :, None]
        if mode.startswith("I") or mode == "F":
            return _wide_to_uint8(np.asarray(im), sixteen_bit=mode.startswith("I;16"))[:, :, None]
        rgb = im if mode == "RGB" else im.convert("RGB")
        return np.asarray(rgb)


def _gray_palette(im: Image.Image) -> bool:
    """True when every palette colour the image uses is a gray (R == G == B)."""
    palette = im.getpalette()
    if not palette:
        return False
    colours = np.asarray(palette, dtype=np.uint8).reshape(-1, 3)  # (P, 3)
    used = np.unique(np.asarray(im))
    used = used[used < len(colours)]
    rgb = colours[used]
    return bool(np.all(rgb[:, 0] == rgb[:, 1]) and np.all(rgb[:, 1] == rgb[:, 2]))


def _wide_to_uint8(arr: np.ndarray, *, sixteen_bit: bool) -> np.ndarray:
    """Wide grayscale to uint8: 16-bit scaled by 255/65535, floats in [0, 1] by 255."""
    if arr.dtype.kind == "f":
        arr = np.nan_to_num(arr.astype(np.float64))
        if arr.size and arr.min() >= 0 and arr.max() <= 1:
            arr = arr * 255
        return np.clip(np.rint(arr), 0, 255).astype(np.uint8)
    wide = arr.astype(np.int64)
    if sixteen_bit or (wide.size and wide.max() > 255):
        return ((np.clip(wide, 0, 65535) * 255 + 32767) // 65535).astype(np.uint8)
    return np.clip(wide, 0, 255).astype(np.uint8)


def _mixed(name: str, shape: tuple[int, ...], ref: str, ref_shape: tuple[int, ...]) -> str:
    return (
        f"images have mixed sizes: {name} is {shape[1]}x{shape[0]} but {ref} is "
        f"{ref_shape[1]}x{ref_shape[0]} (width x height); resize them all to one size."
    )


def _shown(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)
