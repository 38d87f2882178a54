"""Files the ``mesabase`` command reads and writes, and the one-line errors about them.

A user error must never end in a Python traceback. Every failure to read an input or write
an output that the command can name is raised as a :class:`PathError` — an :class:`OSError`
whose text is ``cannot ACTION PATH: REASON`` (``cannot write out/report.md: Read-only file
system``) — and :func:`describe` turns it, and the other known user errors, into the single
line and exit code that :func:`mesabase.sims.cli.main` prints and returns:

=====  ===========================================================================
code   meaning
=====  ===========================================================================
0      done
1      the command could not finish: an output cannot be created or written (no
       permission, a read-only or full file system, a file in the way), a corrupt
       store cell, a failed check
2      the command line or an input is wrong: a usage error, an input file that is
       missing, unreadable, not UTF-8 text, or not valid (a spec, a results folder)
130    interrupted (Ctrl-C)
=====  ===========================================================================

Output folders given on the command line are created, with their missing parents, by
:func:`make_folder`, which says so (``mesabase: created folder PATH``); nothing is created
silently. :func:`atomic_write` writes a file whole or not at all.
"""

from __future__ import annotations

import errno as errno_
import json
import os
import re
import tempfile
from contextlib import contextmanager
from pathlib import Path

__all__ = ["PathError", "USAGE", "FAILED", "INTERRUPTED", "atomic_write", "make_folder",
           "reading", "remove", "reason", "as_path_error"]

#: Exit codes (module docstring).
FAILED, USAGE, INTERRUPTED = 1, 2, 130

_ARROW_ERRNO = re.compile(r"\[errno (\d+)\]", re.IGNORECASE)


class PathError(OSError):
    """Reading or writing ``path`` failed for a reason the user can act on.

    ``str(e)`` is the one line ``cannot {action} {path}: {reason}``; ``exit_code`` is
    :data:`USAGE` for an input (``input=True``), else :data:`FAILED`. An :class:`OSError`
    (``errno``, ``strerror`` = the reason, ``filename`` = the path), so code that handles
    OSError keeps handling it.
    """

    def __init__(self, action: str, path, why: str, errno: int | None = None, *,
                 input: bool = False):
        super().__init__(errno, why, str(path))
        self.action = action
        self.exit_code = USAGE if input else FAILED

    def __str__(self) -> str:
        return f"cannot {self.action} {self.filename}: {self.strerror}"

    def __reduce__(self):  # pickles (a process pool's result) with its own arguments
        return (PathError, (self.action, self.filename, self.strerror, self.errno),
                {"exit_code": self.exit_code})


#: The errno an OSError subclass stands for, when it was raised with a message only
#: (pandas raises ``FileNotFoundError(path)``).
_KIND_ERRNO = {FileNotFoundError: errno_.ENOENT, PermissionError: errno_.EACCES,
               FileExistsError: errno_.EEXIST, NotADirectoryError: errno_.ENOTDIR,
               IsADirectoryError: errno_.EISDIR}


def _errno(e: BaseException) -> int | None:
    errno = getattr(e, "errno", None)
    if errno is None and isinstance(e, OSError):
        m = _ARROW_ERRNO.search(str(e))
        errno = int(m.group(1)) if m else _KIND_ERRNO.get(type(e))
    return errno if isinstance(errno, int) else None


def reason(e: BaseException) -> str:
    """The part of ``e``'s message that says what went wrong, on one line: the system's text
    for its errno (``Read-only file system``), also for pyarrow's errors, which carry the
    errno only in their message (``... Detail: [errno 28] No space left on device``); for a
    UnicodeDecodeError, ``not UTF-8 text`` and where."""
    if isinstance(e, UnicodeDecodeError):
        return (f"not UTF-8 text (byte 0x{e.object[e.start]:02x} at offset {e.start})"
                if e.start < len(e.object) else "not UTF-8 text")
    errno = _errno(e)
    if errno is not None and errno > 0:
        return os.strerror(errno)
    text = (getattr(e, "strerror", None) if isinstance(e, OSError) else None) or str(e)
    return " ".join(text.split()) or type(e).__name__


def as_path_error(e: BaseException, action: str, path, *, input: bool = False) -> PathError:
    if isinstance(e, PathError):
        return e
    return PathError(action, path, reason(e), _errno(e), input=input)


def atomic_write(path, write) -> Path:
    """Call ``write(tmp)`` on a temporary path beside ``path`` (``.NAME.PID.tmp``), then
    rename it to ``path`` (``os.replace``: atomic on one file system), creating the folder.
    On an error the temporary file is removed, ``path`` keeps its old content and the error
    is raised as a :class:`PathError` naming ``path`` (``cannot write PATH: No space left on
    device``)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise as_path_error(e, "create folder", path.parent) from e
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    except OSError as e:
        raise as_path_error(e, "write", path) from e
    finally:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:  # the folder itself is gone or unreadable: nothing left to clean
            pass
    return path


def remove(path) -> None:
    """Delete the file ``path`` if it exists; a failure is a :class:`PathError`."""
    try:
        Path(path).unlink(missing_ok=True)
    except OSError as e:
        raise as_path_error(e, "remove", path) from e


@contextmanager
def reading(path, action: str = "read"):
    """``with reading(path): ...`` — an error while reading the input ``path`` (missing,
    unreadable, not UTF-8, not valid JSON or Parquet: OSError, UnicodeDecodeError,
    ValueError) is raised as a :class:`PathError` naming it, with exit code :data:`USAGE`
    (``cannot read out/x/meta.json: not UTF-8 text (byte 0xff at offset 0)``)."""
    try:
        yield Path(path)
    except PathError:
        raise
    except (OSError, ValueError) as e:
        why = reason(e)
        if isinstance(e, json.JSONDecodeError):
            why = f"not valid JSON ({e.msg} at line {e.lineno} column {e.colno})"
        raise PathError(action, path, why, _errno(e), input=True) from e


def _first_existing(path: Path) -> Path:
    p = path
    while not (p.exists() or p.is_symlink()) and p != p.parent:
        p = p.parent
    return p


def make_folder(path, stream=None) -> bool:
    """Make sure ``path`` is a folder this process can write into, creating it and any
    missing parents. Returns True when it was created; then, with a ``stream``, writes
    ``mesabase: created folder PATH`` there. Raises :class:`PathError` (``cannot create
    folder PATH: REASON`` or ``cannot write to PATH: REASON``) when it cannot be created —
    a file is in the way, no permission, a read-only file system — or is not writable (a
    hidden probe file is created in it and removed)."""
    path = Path(path)
    created = False
    if not path.is_dir():
        blocker = _first_existing(path)
        if (blocker.exists() or blocker.is_symlink()) and not blocker.is_dir():
            why = ("it is a file, not a folder" if blocker == path
                   else f"{blocker} is a file, not a folder")
            raise PathError("create folder", path, why)
        try:
            path.mkdir(parents=True)
            created = True
        except FileExistsError:   # made meanwhile by someone else: fine if a folder
            if not path.is_dir():
                raise PathError("create folder", path, "it is a file, not a folder") from None
        except OSError as e:
            raise as_path_error(e, "create folder", path) from e
    try:
        fd, probe = tempfile.mkstemp(prefix=".mesabase-probe-", dir=path)
    except OSError as e:
        raise as_path_error(e, "write to", path) from e
    os.close(fd)
    os.unlink(probe)
    if created and stream is not None:
        stream.write(f"mesabase: created folder {path}\n")
    return created
