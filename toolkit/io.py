"""Atomic file writes: a killed process leaves either the old file or the new one, never half.

A write that fails (disk full, file-size limit, read-only or forbidden folder, a file where a
folder should be) raises :class:`~toolkit.errors.WriteError`, one line naming the path, the
cause and the remedy, and leaves no temporary file behind.

A written file gets the permissions a plain ``open(path, "w")`` would give it (``0o666`` less
the umask, or what the folder's default ACL says), not the ``0o600`` of
:func:`tempfile.mkstemp`: the temporary file is created by :func:`os.open` with mode ``0o666``
and the kernel applies the umask, so the process-wide umask is never read or changed (reading
it means setting it, which races with other threads). A file that is replaced keeps its mode.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import secrets
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from toolkit.errors import ToolkitError, WriteError

# The folders the toolkit writes into, by the variable that moves each (default ./<name>);
# a failed write below one of them suggests that variable.
MOVABLE = {
    "TOOLKIT_RUNS": "runs",
    "TOOLKIT_SUBMISSIONS": "submissions",
    "TOOLKIT_STUDIES": "studies",
}

FULL = "free some space or {where}"
CAUSES: dict[int, tuple[str, str]] = {  # errno -> (cause, remedy)
    errno.ENOSPC: ("no space left on device", FULL),
    errno.EDQUOT: ("disk quota exceeded", FULL),
    errno.EFBIG: (
        "file too large (the file-size limit, ulimit -f, or the file system's)",
        "raise the limit (ulimit -f unlimited) or {where}",
    ),
    errno.EROFS: ("read-only file system", "{where}"),
    errno.EACCES: ("permission denied", "fix the folder's permissions or {where}"),
    errno.EPERM: ("operation not permitted", "fix the folder's permissions or {where}"),
    errno.ENOTDIR: ("a file is in the way where a folder should be", "move it or {where}"),
    errno.EEXIST: ("a file is in the way where a folder should be", "move it or {where}"),
    errno.EISDIR: ("a folder is in the way where the file should be", "move it or {where}"),
    errno.ENAMETOOLONG: ("the name is too long for the file system", "{where}"),
}
WRITE_ONLY = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS}  # never the cause of a read


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed onto ``path``.

    Any failure removes the temporary file; an :class:`OSError` (disk full, read-only folder...)
    becomes a :class:`~toolkit.errors.WriteError` naming ``path``.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = _create_temporary(path)
    except OSError as err:
        raise write_error(path, err) from None
    try:
        yield tmp
        _keep_mode(path, tmp)
        os.replace(tmp, path)
    except BaseException as err:
        failure = None
        if isinstance(err, OSError) and not isinstance(err, ToolkitError):
            failure = write_error(path, err, partial=Path(tmp))  # before the partial file goes
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if failure is not None:
            raise failure from None
        raise


TEMPORARY_TRIES = 100  # random names tried before giving up (a clash is already unlikely)


def _create_temporary(path: Path) -> Path:
    """Create an empty ``.NAME.XXXXXXXX.tmp`` beside ``path``, exclusively, with mode ``0o666``
    less the umask: the mode a plain ``open()`` gives (``mkstemp`` would make it ``0o600``)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for _ in range(TEMPORARY_TRIES):
        tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
        try:
            fd = os.open(tmp, flags, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return tmp
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(path.parent))


def _keep_mode(path: Path, tmp: Path) -> None:
    """Give ``tmp`` the permissions of the file it is about to replace, if there is one (a
    user's ``chmod 600 run.json`` survives the next write)."""
    try:
        st = os.stat(path)
    except OSError:  # no file yet: tmp keeps the mode it was created with
        return
    if stat.S_ISREG(st.st_mode):
        with contextlib.suppress(OSError):  # a file system without modes (FAT) keeps its own
            os.chmod(tmp, stat.S_IMODE(st.st_mode) & 0o777)


def write_error(
    path: str | Path, err: BaseException, *, partial: Path | None = None
) -> WriteError:
    """The one-line error for a failed write of ``path``: the path, the cause, the remedy.

    ``err`` is the OSError (or a library's error quoting one, ``... (os error 28)``); when it
    carries no errno (numpy reports a short write as ``N requested and M written``) the cause
    is worked out from the file-size limit, the ``partial`` file written so far and the free
    space.
    """
    code = _errno(err, Path(path), partial)
    where = _where(Path(path))
    if code in CAUSES:
        cause, remedy = CAUSES[code]
        text = f"cannot write {shown(path)}: {cause}; {remedy.format(where=where)}."
    else:
        reason = getattr(err, "strerror", None) or str(err) or type(err).__name__
        text = f"cannot write {shown(path)}: {reason.rstrip('.')}."
    failure = WriteError(text)
    failure.errno = code
    failure.filename = str(path)
    return failure


def os_error_message(err: OSError) -> str:
    """One line for an OSError no toolkit code turned into an error of its own: the path, the
    cause and the remedy (``error: `` is added by the CLI)."""
    code = err.errno
    path = err.filename
    if path is None and code in CAUSES:
        cause, remedy = CAUSES[code]
        where = "write somewhere else ($TOOLKIT_RUNS, $TOOLKIT_STUDIES... say where)"
        return f"a write failed: {cause}; {remedy.format(where=where)}."
    if path is None:
        return f"{err.strerror or err}; check the disk and the folders the toolkit uses."
    if code in WRITE_ONLY:
        return str(write_error(path, err))
    if code in CAUSES:
        cause, remedy = CAUSES[code]
        return f"{shown(path)}: {cause}; {remedy.format(where='use another folder')}."
    return f"{shown(path)}: {err.strerror or err}; check that path."


def read_checked_json(
    path: Path,
    problem_of: Callable[[Any], str | None],
    *,
    unreadable: str,
    advice: str,
    remedy: str,
) -> Any:
    """The JSON at ``path`` once ``problem_of`` finds nothing wrong with it; else one line:
    ``{unreadable} (path: cause); {advice}.`` when it cannot be read, ``path is damaged
    (problem); {remedy}`` when it is not JSON or not what readers rely on."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ToolkitError(
            f"{unreadable} ({shown(path)}: {err.strerror or err}); {advice}."
        ) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        data, problem = None, f"not JSON: {err}"
    else:
        problem = problem_of(data)
    if problem:
        raise ToolkitError(f"{shown(path)} is damaged ({problem}); {remedy}")
    return data


def shown(path: str | Path) -> str:
    """``path`` as messages show it: relative to the working folder when inside it."""
    text = os.fsdecode(path)
    try:
        rel = os.path.relpath(os.path.abspath(text))
    except ValueError:  # another drive (Windows)
        return text
    return text if rel.startswith("..") else rel


def _where(path: Path) -> str:
    """Where else the file could go: the variable that moves its folder, if it has one."""
    target = os.path.abspath(path)
    roots = {var: os.environ.get(var) or default for var, default in MOVABLE.items()}
    roots["TOOLKIT_CACHE"] = str(cache_root())
    for var, root in roots.items():
        base = os.path.join(os.path.abspath(os.path.expanduser(root)), "")
        if target.startswith(base):
            return f"point ${var} at another folder"
    return "write somewhere else"


def _errno(err: BaseException, path: Path, partial: Path | None) -> int | None:
    code = getattr(err, "errno", None)
    if isinstance(code, int):
        return code
    quoted = re.search(r"os error (\d+)", str(err))  # Rust libraries (safetensors)
    if quoted:
        return int(quoted.group(1))
    if _over_size_limit(partial):
        return errno.EFBIG
    if _nearly_full(partial.parent if partial is not None else path.parent):
        return errno.ENOSPC
    return None


def _over_size_limit(partial: Path | None) -> bool:
    """Whether the partial file reached this process's file-size limit (``ulimit -f``)."""
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
        return (
            partial is not None
            and soft != resource.RLIM_INFINITY
            and partial.stat().st_size >= soft
        )
    except (ImportError, OSError, ValueError):
        return False


def _nearly_full(folder: Path) -> bool:
    """Whether less than 1 MiB is free where ``folder`` lives (a short write then means full)."""
    try:
        st = os.statvfs(folder)
    except (AttributeError, OSError):
        return False
    return st.f_bavail * st.f_frsize < 1 << 20


def cache_root() -> Path:
    """The toolkit's cache folder: ``$TOOLKIT_CACHE``, else ``$XDG_CACHE_HOME/toolkit``,
    else ``~/.cache/toolkit``. It is not created here."""
    if os.environ.get("TOOLKIT_CACHE"):
        return Path(os.environ["TOOLKIT_CACHE"]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "toolkit"
    return Path.home() / ".cache" / "toolkit"


def atomic_write(path: str | Path, writer: Callable[[IO[bytes]], Any]) -> None:
    """Call ``writer(file)`` on a temporary file, fsync it, then rename it onto ``path``."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        writer(fh)
        fh.flush()
        os.fsync(fh.fileno())


def write_text(path: str | Path, text: str) -> None:
    """Atomically write ``text`` (UTF-8)."""
    atomic_write(path, lambda fh: fh.write(text.encode("utf-8")))


def write_json(path: str | Path, data: Any) -> None:
    """Atomically write ``data`` as indented JSON."""
    write_text(path, json.dumps(data, indent=2, default=_jsonable) + "\n")


def _jsonable(obj: Any) -> Any:
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, set | frozenset | tuple):
        return list(obj)
    return str(obj)
