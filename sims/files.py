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

A results folder is untrusted input
    The results folder (``mesabase run --out OUT``) may have been made by someone else, and
    mesabase re-reads it to rebuild the report. Nothing in it may make mesabase read or
    write outside it, so mesabase follows **no symbolic link below OUT** (OUT itself, named
    by the user, may be one):

    * reading: :func:`open_input` walks from OUT to the file one component at a time, each
      opened relative to its parent's descriptor with ``O_NOFOLLOW`` (folders with
      ``O_DIRECTORY``; the file with ``O_NONBLOCK`` too, so a FIFO cannot hang the read),
      and checks with ``fstat`` that the file is a regular file (as the sweep store does,
      :mod:`mesabase.sims.experiments.store_files`); :func:`input_exists` answers "is there
      such a file?" with ``lstat``, and a link is *not* absent: it is refused;
    * writing: :func:`make_folder` with ``root=OUT`` refuses a folder below OUT, or any
      folder between, that is a link, before anything is written into it; a file itself
      is written by :func:`atomic_write`, whose ``os.replace`` replaces a link where the
      file belongs, never its target;
    * a link found either way is a :class:`PathError` with exit code :data:`USAGE`:
      ``cannot read OUT/x/meta.json: is a symbolic link; mesabase does not follow links in
      a results folder`` (naming the link, which may be a folder on the way).

    Not guarded: a folder swapped for a link *while* mesabase writes into it (the writes go
    by path once the folder is checked); the threat is a folder shared at rest.
"""

from __future__ import annotations

import errno as errno_
import json
import os
import re
import stat
import tempfile
from contextlib import contextmanager
from pathlib import Path

__all__ = ["PathError", "USAGE", "FAILED", "INTERRUPTED", "atomic_write", "make_folder",
           "reading", "remove", "reason", "as_path_error", "LINK_REASON", "open_input",
           "input_exists", "read_input_text", "refuse_links"]

#: Exit codes (module docstring).
FAILED, USAGE, INTERRUPTED = 1, 2, 130

#: Why a symbolic link in a results folder is refused (module docstring).
LINK_REASON = "is a symbolic link; mesabase does not follow links in a results folder"
_NOFOLLOW = os.O_NOFOLLOW | os.O_CLOEXEC
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


def make_folder(path, stream=None, *, root=None) -> bool:
    """Make sure ``path`` is a folder this process can write into, creating it and any
    missing parents. Returns True when it was created; then, with a ``stream``, writes
    ``mesabase: created folder PATH`` there. Raises :class:`PathError` (``cannot create
    folder PATH: REASON`` or ``cannot write to PATH: REASON``) when it cannot be created —
    a file is in the way, no permission, a read-only file system — or is not writable (a
    hidden probe file is created in it and removed). With ``root`` (a results folder that
    ``path`` lies below), a symbolic link at ``path`` or between ``root`` and it is refused
    first (:func:`refuse_links`: ``cannot write into LINK: is a symbolic link; ...``)."""
    path = Path(path)
    if root is not None:
        refuse_links(path, root, "write into")
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


# ---- a results folder: no links below its root (module docstring) ---------------------------
def _below(path, root) -> tuple[Path, Path, tuple[str, ...]]:
    """(path, root, the components of ``path`` below ``root``); ValueError unless ``path``
    lies strictly below ``root`` (lexically, without ``..``)."""
    path, root = Path(path), Path(root)
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        parts = ()
    if not parts or ".." in parts:
        raise ValueError(f"{path} is not a path inside the results folder {root}")
    return path, root, parts


def _link_error(action: str, path) -> PathError:
    return PathError(action, path, LINK_REASON, errno_.ELOOP, input=True)


def refuse_links(path, root, action: str = "read") -> bool:
    """Whether ``path`` (below the results folder ``root``) exists, found with ``lstat`` of
    each component below ``root`` in turn: False as soon as one is missing (or a file stands
    where a folder should). A component that is a symbolic link raises :class:`PathError`
    (``cannot ACTION LINK: is a symbolic link; ...``, exit code :data:`USAGE`)."""
    path, here, parts = _below(path, root)
    for name in parts:
        here = here / name
        try:
            st = os.lstat(here)
        except (FileNotFoundError, NotADirectoryError):
            return False
        except OSError as e:
            raise as_path_error(e, action, here, input=True) from e
        if stat.S_ISLNK(st.st_mode):
            raise _link_error(action, here)
    return True


def input_exists(path, root) -> bool:
    """``Path.exists`` for an input in the results folder ``root`` that follows no link: a
    symbolic link at ``path`` or on the way to it raises :class:`PathError`
    (:func:`refuse_links`) instead of being followed or taken for absent."""
    return refuse_links(path, root, "read")


def _open_below(d: int, name: str, shown: Path, flags: int) -> int:
    try:
        return os.open(name, os.O_RDONLY | _NOFOLLOW | flags, dir_fd=d)
    except OSError as e:
        try:
            link = stat.S_ISLNK(os.stat(name, dir_fd=d, follow_symlinks=False).st_mode)
        except OSError:
            link = False
        if link:
            raise _link_error("read", shown) from None
        raise as_path_error(e, "read", shown, input=True) from e


def open_input(path, root):
    """The file ``path`` of the results folder ``root``, open for reading in binary (a
    file object: ``pd.read_csv(f)``, ``pd.read_parquet(f)``, ``f.read()``), following no
    link: each folder below ``root`` is opened relative to its parent with ``O_NOFOLLOW |
    O_DIRECTORY``, the file with ``O_NOFOLLOW | O_NONBLOCK``, and ``fstat`` must show a
    regular file. ``root`` itself may be a link (the user named it). Raises
    :class:`PathError` with exit code :data:`USAGE`: a link (:data:`LINK_REASON`, naming the
    link), not a regular file, missing or unreadable (naming ``path``)."""
    path, root, parts = _below(path, root)
    try:
        d = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as e:
        raise as_path_error(e, "read", path, input=True) from e
    try:
        here = root
        for name in parts[:-1]:
            here = here / name
            nd = _open_below(d, name, here, os.O_DIRECTORY)
            os.close(d)
            d = nd
        fd = _open_below(d, parts[-1], path, os.O_NONBLOCK)
    finally:
        os.close(d)
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        why = ("it is a folder, not a file" if stat.S_ISDIR(st.st_mode)
               else "it is not a regular file")
        raise PathError("read", path, why, input=True)
    return os.fdopen(fd, "rb")


def read_input_text(path, root) -> str:
    """The UTF-8 text of ``path`` in the results folder ``root``, read as
    :func:`open_input`; a UnicodeDecodeError is left to :func:`reading` to name."""
    with open_input(path, root) as f:
        return f.read().decode("utf-8")
