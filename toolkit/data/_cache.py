"""On-disk cache of decoded competitions, keyed by a content fingerprint and the image policy.

One entry is a folder ``<cache>/<fingerprint>/`` holding ``x_train.npy``, ``y_train.npy``,
``x_test.npy``, optionally ``y_test.npy``, and ``meta.json`` (classes, test and training ids,
columns, the resolved image policy). The fingerprint covers the files and the requested
(image_size, resize), so each size of a folder has its own entry and switching back to a size
already decoded is instant. An entry is built in a temporary folder beside it (:func:`scratch`:
the image decoder writes its arrays there directly) and moved into place with one
``os.replace``, so readers see a complete entry or none. Entries are read back memory-mapped, so
a second load costs a directory walk (for the fingerprint) and a few file opens, whatever the
number of images.

``meta.json`` also holds a checksum (:func:`checksum`) of everything but the pixels: the label
arrays byte for byte, the pixel arrays' headers and file sizes, and the rest of ``meta.json``.
A load verifies it (a few milliseconds even for 300,000 images) and rebuilds an entry that
fails, so an edited label (out of range, say) is never trusted. The pixels themselves are not
hashed: that would read every page of the memory-mapped arrays on every load (about 0.2 s per
100 MB) and any uint8 value is a valid pixel.

An entry without ``train_ids`` in its ``meta.json`` was written before entries kept the training
images' ids; it is rebuilt once, under the same fingerprint, so a cached load always equals a
fresh one (an old entry would otherwise lack the ids that k-fold's oof.csv names its rows with).
``CACHE_VERSION`` is not bumped for this: the version is part of every fingerprint, and a new
fingerprint would make every existing run look trained on other data.
"""

from __future__ import annotations

import hashlib
import json
import logging
import mmap
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from toolkit.data._competition import Parsed
from toolkit.data._resize import SizeRequest
from toolkit.io import cache_root as cache_root  # the data cache lives under it

log = logging.getLogger(__name__)

CACHE_VERSION = 3  # bump when decoding changes, so entries built by older code are rebuilt
_STALE_TMP_S = 24 * 3600  # leftover temp folders older than this came from a crashed process
_ARRAYS = ("x_train", "y_train", "x_test", "y_test")
_HASHED = ("y_train", "y_test")  # arrays the checksum covers byte for byte (the rest: headers)


def fingerprint(
    fmt: str,
    base: Path,
    inputs: Iterable[Path],
    request: SizeRequest = SizeRequest(),  # noqa: B008 (frozen, so sharing it is safe)
) -> str:
    """Hex digest of the format, the image-size request and every input file's relative
    path, size and mtime.

    ``inputs`` are files or folders (walked recursively, symlinks followed); missing ones are
    skipped, so adding an optional file (e.g. an answer key) changes the fingerprint too.
    """
    prefix = os.path.join(str(base), "")
    records: list[tuple[str, int, int]] = []
    for item in inputs:
        path = str(item)
        if os.path.isdir(path):
            _walk(path, prefix, records, set())
        elif os.path.isfile(path):
            st = os.stat(path)
            records.append((_relative(path, prefix), st.st_size, st.st_mtime_ns))
    records.sort()
    payload = json.dumps(
        {
            "version": CACHE_VERSION,
            "format": fmt,
            "request": request.as_dict(),
            "files": records,
        }
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def _walk(
    folder: str, prefix: str, out: list[tuple[str, int, int]], seen: set[tuple[int, int]]
) -> None:
    """Append (relative path, size, mtime_ns) of every file under ``folder``; os.scandir and
    plain strings keep this at a few microseconds per file (60,000 images: well under 1 s)."""
    st = os.stat(folder)
    if (st.st_dev, st.st_ino) in seen:  # a symlink loop
        return
    seen.add((st.st_dev, st.st_ino))
    with os.scandir(folder) as entries:
        for entry in entries:
            try:
                if entry.is_dir():
                    _walk(entry.path, prefix, out, seen)
                elif entry.is_file():
                    info = entry.stat()
                    out.append((_relative(entry.path, prefix), info.st_size, info.st_mtime_ns))
            except OSError:  # vanished or unreadable: the reader reports it if it matters
                continue


def _relative(path: str, prefix: str) -> str:
    rel = path[len(prefix) :] if path.startswith(prefix) else path
    return rel.replace(os.sep, "/")


def read_entry(cache_dir: Path, key: str) -> Parsed | None:
    """The cached competition for ``key``, memory-mapped; None when absent or damaged."""
    entry = cache_dir / key
    meta_path = entry / "meta.json"
    if not meta_path.is_file():
        return None
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("fingerprint") != key or meta.get("version") != CACHE_VERSION:
            raise ValueError("fingerprint mismatch")
        if "train_ids" not in meta:
            raise ValueError("written before entries kept the training ids")
        arrays = {
            name: np.load(entry / f"{name}.npy", mmap_mode="r", allow_pickle=False)
            for name in _ARRAYS
            if name != "y_test" or meta["has_answers"]
        }
        for name, array in arrays.items():
            if list(array.shape) != meta["shapes"][name]:
                raise ValueError(f"{name}.npy has shape {array.shape}")
        if meta.get("checksum") != checksum(entry, meta, arrays):
            raise ValueError("its checksum does not match: a file in it was changed")
        return Parsed(
            x_train=arrays["x_train"],
            y_train=np.asarray(arrays["y_train"]),
            classes=tuple(meta["classes"]),
            x_test=arrays["x_test"],
            test_ids=tuple(meta["test_ids"]),
            train_ids=tuple(meta["train_ids"]),
            id_column=meta["id_column"],
            label_column=meta["label_column"],
            y_test=np.asarray(arrays["y_test"]) if "y_test" in arrays else None,
            image_policy=dict(meta["image_policy"]),
        )
    except Exception as err:  # a damaged entry is never trusted: rebuild it
        log.warning("cache entry %s is unusable (%s); rebuilding it", entry, err)
        _remove(entry)
        return None


def checksum(entry: Path, meta: dict[str, object], arrays: dict[str, np.ndarray]) -> str:
    """sha256 of an entry's ``meta.json`` (less the checksum), its label arrays (every byte)
    and, for the pixel arrays, dtype, shape and file size; ``arrays`` are its .npy files,
    memory-mapped. Cheap: the pixels are never read."""
    h = hashlib.sha256()
    rest = {k: v for k, v in meta.items() if k != "checksum"}
    h.update(json.dumps(rest, sort_keys=True).encode())
    for name in sorted(arrays):
        array = arrays[name]
        size = os.stat(entry / f"{name}.npy").st_size
        h.update(f"{name}:{array.dtype.str}:{array.shape}:{size};".encode())
        if name in _HASHED:
            h.update(np.ascontiguousarray(array).tobytes())
    return h.hexdigest()


def release_pages(array: np.ndarray) -> None:
    """Hand the resident pages under ``array``, a view of a read-only memory-mapped cache
    array, back to the kernel.

    The bytes stay in the OS page cache and are read back on the next access; this only keeps
    one pass over a large cached array (predicting a test set chunk by chunk) from growing the
    process's resident memory by the whole array. Pages only partly under ``array`` are kept.
    Does nothing for arrays that are not views of a read-only map, or where the OS has no
    ``madvise``.
    """
    if array.size == 0 or not hasattr(mmap, "MADV_DONTNEED"):
        return
    owner: object = array
    read_only = False
    while owner is not None and not isinstance(owner, mmap.mmap):
        # Only mode "r": dropping pages of a copy-on-write map ("c") would lose its changes.
        read_only = read_only or getattr(owner, "mode", None) == "r"
        owner = getattr(owner, "base", None)
    if not isinstance(owner, mmap.mmap) or not read_only:
        return
    dims = list(zip(array.shape, array.strides, strict=True))
    offset = array.ctypes.data - np.frombuffer(owner, dtype=np.uint8).ctypes.data
    low = offset + sum((n - 1) * s for n, s in dims if s < 0)
    high = offset + sum((n - 1) * s for n, s in dims if s > 0) + array.itemsize
    page = mmap.PAGESIZE
    first, last = -(-low // page) * page, high // page * page
    if last > first:
        owner.madvise(mmap.MADV_DONTNEED, first, last - first)


@contextmanager
def scratch(cache_dir: Path, key: str) -> Iterator[Path | None]:
    """A fresh temporary folder in ``cache_dir`` for building entry ``key`` (pass it to
    :func:`write_entry`), removed on exit unless installed; None (with a warning) when the
    cache is not writable, in which case the caller goes on without a cache."""
    created = _missing_folders(cache_dir)  # made here; removed again if nothing lands
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{key[:16]}-", dir=cache_dir))
    except OSError as err:
        _unwritable(cache_dir, err)
        yield None
        return
    try:
        yield tmp
    finally:
        _remove(tmp)  # gone already when write_entry installed it
        for folder in created:  # deepest first: a failed load leaves no empty cache folders
            try:
                folder.rmdir()
            except OSError:  # not empty (an entry landed) or gone: keep the rest
                break


def _missing_folders(folder: Path) -> list[Path]:
    """``folder`` and its ancestors that do not exist yet, deepest first."""
    missing = []
    while not folder.exists() and folder.parent != folder:
        missing.append(folder)
        folder = folder.parent
    return missing


def write_entry(
    cache_dir: Path,
    key: str,
    parsed: Parsed,
    *,
    fmt: str,
    source: Path,
    request: SizeRequest = SizeRequest(),  # noqa: B008 (frozen, so sharing it is safe)
    tmp: Path | None = None,
) -> bool:
    """Store ``parsed`` under ``key`` atomically; False (with a warning) if the cache is
    not writable, in which case the caller simply goes on without a cache.

    ``tmp``: the :func:`scratch` folder the arrays were decoded into; arrays already there
    (memory-mapped from ``tmp/<name>.npy``) are not written again.
    """
    own_tmp = tmp is None
    try:
        if tmp is None:
            cache_dir.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{key[:16]}-", dir=cache_dir))
        arrays = {name: getattr(parsed, name) for name in _ARRAYS}
        for name, array in arrays.items():
            target = tmp / f"{name}.npy"
            if array is not None and not _stored_in(array, target):
                np.save(target, np.ascontiguousarray(array), allow_pickle=False)
        meta = {
            "version": CACHE_VERSION,
            "fingerprint": key,
            "format": fmt,
            "source": str(source),
            "classes": list(parsed.classes),
            "test_ids": list(parsed.test_ids),
            "train_ids": list(parsed.train_ids),  # [] when the layout names none
            "id_column": parsed.id_column,
            "label_column": parsed.label_column,
            "has_answers": parsed.y_test is not None,
            "shapes": {n: list(a.shape) for n, a in arrays.items() if a is not None},
            "request": request.as_dict(),
            "image_policy": parsed.image_policy,
        }
        stored = {  # as a load will map them
            name: np.load(tmp / f"{name}.npy", mmap_mode="r", allow_pickle=False)
            for name, array in arrays.items()
            if array is not None
        }
        meta["checksum"] = checksum(tmp, meta, stored)
        del stored
        (tmp / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
        _install(tmp, cache_dir / key)
        tmp = None
    except OSError as err:
        _unwritable(cache_dir, err)
        return False
    finally:
        if tmp is not None and own_tmp:
            _remove(tmp)
    _prune(cache_dir, keep=key, fmt=fmt, source=str(source), request=request.as_dict())
    return True


def _stored_in(array: np.ndarray, file: Path) -> bool:
    """True when ``array`` is the whole memory-mapped content of ``file``."""
    name = getattr(array, "filename", None)
    if not name or not file.is_file() or os.path.abspath(name) != os.path.abspath(file):
        return False
    return np.load(file, mmap_mode="r").shape == array.shape


def _unwritable(cache_dir: Path, err: OSError) -> None:
    log.warning("cannot write the data cache in %s (%s); continuing without it", cache_dir, err)


def _install(tmp: Path, final: Path) -> None:
    """Move a finished entry into place; an existing entry (``refresh``) is swapped out."""
    old: Path | None = None
    if final.exists():
        old = Path(tempfile.mkdtemp(prefix=".old-", dir=final.parent))
        os.replace(final, old / "entry")
    try:
        os.replace(tmp, final)
    except OSError:
        if not (final / "meta.json").is_file():
            raise
        # Another process installed the same entry first: theirs is as good as ours.
    finally:
        if old is not None:
            _remove(old)


def _prune(
    cache_dir: Path, *, keep: str, fmt: str, source: str, request: dict[str, object]
) -> None:
    """Delete entries made from the same folder with the same image-size request before its
    files changed (or by older code), and stale temps. Entries of other requests stay: a
    switch back to their size is then a cache hit."""
    now = time.time()
    try:
        children = list(cache_dir.iterdir())
    except OSError:
        return
    for child in children:
        try:
            if child.name.startswith((".tmp-", ".old-")):
                if now - child.stat().st_mtime > _STALE_TMP_S:
                    _remove(child)
                continue
            if child.name == keep or not (child / "meta.json").is_file():
                continue
            meta = json.loads((child / "meta.json").read_text(encoding="utf-8"))
            same = meta.get("source") == source and meta.get("format") == fmt
            outdated = meta.get("version") != CACHE_VERSION or meta.get("request") == request
            if same and outdated:
                log.info("removing outdated cache entry %s", child)
                _remove(child)
        except (OSError, ValueError, AttributeError):
            continue


def _remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
