"""The results store's on-disk format and its safe file operations (:mod:`.store` is the
:class:`.store.Store` API built on them).

    STORE/
      manifest.jsonl                          one JSON record a line: the store's only truth
      .lock                                   the fcntl.flock that serialises writers
      <slug>.<key hash>.<data hash>.parquet   one per finished cell (the bytes of its table)
      .mesabase-tmp-<pid>-<16 hex>.parquet    a writer's file in progress (never read)

The manifest's records (one JSON object a line, read in order, the last of a key wins):

    {"op": "put", "key": k, "file": f, "sha256": h, "bytes": n, "rows": r, "meta": {...}, "time": t}
    {"op": "discard", "key": k, "time": t}

Here: the store's file names (:func:`is_own_name`, :func:`cell_name`), the no-follow open of
an entry relative to a descriptor of the store directory (:func:`open_entry`), the parsing
and validation of a manifest record (:func:`parse_record`), the encoding and checks of a
cell's bytes (:func:`to_parquet`, :func:`check_bytes`, :func:`decode_cell`) and the clean-up
of dead writers' leftovers (:func:`cleanup`). None of it takes the store lock: the caller
(:class:`.store.Store`) does.

What is checked: a store is untrusted input
    A store may come from someone else, or be damaged; the store never acts on what its
    manifest says without checking it first, and touches nothing outside its directory.

    * **Names.** Every file the store opens, creates, renames or deletes is one of its own
      names (``manifest.jsonl``, ``.lock``, the temp and cell patterns above: no ``/``, no
      ``..``, never absolute), used relative to a descriptor of the store directory.
    * **No links.** Every file is opened with ``O_NOFOLLOW`` and checked with ``fstat`` to
      be a regular file; the manifest is written only when it has a single hard link. A
      symbolic link (or a FIFO, a directory, …) where ``manifest.jsonl`` or ``.lock``
      belongs raises :class:`StoreError` naming the path; one where a cell file belongs
      makes that cell corrupt. Links are never followed and never deleted.
    * **Records.** A complete manifest line that is not a well-formed record — not JSON, a
      field missing or of the wrong type (``rows`` must be an int >= 0, not a bool;
      ``sha256`` 64 lowercase hex digits; ``meta`` a dict; …) — is skipped with a
      :class:`RuntimeWarning` naming the line (the key's earlier record, if any, stands).
    * **The key is bound twice.** A put record's ``file`` must be exactly the name this
      store gives that key and checksum (the name carries 12 hex digits of the key's sha256
      and 24 of the data's); any other name — ``../victim.txt``, ``/etc/passwd``, another
      key's file — makes the cell corrupt, and that name is never opened or deleted. The
      Parquet file itself carries the key (schema metadata ``mesabase.key``), so a file
      copied under another key's name is corrupt too.
    * **Contents.** :meth:`Store.read` and :meth:`Store.verify` check the file's size and
      sha256 against the record, decode it, and compare the key inside and the number of
      rows with the record. Any mismatch raises (or reports) :class:`CorruptCell` naming
      the key; the remedy is :meth:`Store.discard` and recompute, which the sweep does.
    * **Deleting.** Only :meth:`Store.write` (a superseded file, a writer's leftovers) and
      :meth:`Store.discard` delete, and only regular files with the store's own names whose
      key record named them. The clean-up of dead writers' leftovers (temp files nobody
      holds a lock on, cell files no record names) runs only in a directory that holds a
      ``manifest.jsonl`` and nothing but the store's own names; a folder with anything
      else in it is never cleaned. :class:`Store` refuses to make a store of an existing
      folder that holds other files and no manifest.

    What is *not* checked: the numbers. A store made by someone else holds whatever tables
    its author chose; the checks catch damage and mix-ups, not a forger who writes a
    well-formed cell for a key. Decoding uses pyarrow (never ``pickle``); memory is not
    bounded against a hostile file.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import re
import secrets
import stat
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

__all__ = ["CorruptCell", "StoreError", "MANIFEST", "LOCK", "TEMP_PREFIX", "KEY_METADATA"]

MANIFEST = "manifest.jsonl"
LOCK = ".lock"
TEMP_PREFIX = ".mesabase-tmp-"
#: The Parquet schema metadata entry that carries a cell's key (UTF-8).
KEY_METADATA = b"mesabase.key"
_CELL_RE = re.compile(r"[A-Za-z0-9_-]{1,40}\.[0-9a-f]{12}\.[0-9a-f]{24}\.parquet")
_TEMP_RE = re.compile(re.escape(TEMP_PREFIX) + r"[0-9]{1,10}-[0-9a-f]{16}\.parquet")
_SHA_RE = re.compile(r"[0-9a-f]{64}")
_PUT_FIELDS = {"file": str, "sha256": str, "bytes": int, "rows": int, "meta": dict}
_NOFOLLOW = os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK  # NONBLOCK: a FIFO cannot hang us
#: The errnos of a store that cannot be written (read without its lock).
READ_ONLY = (errno.EROFS, errno.EACCES, errno.EPERM)


class CorruptCell(Exception):
    """A recorded cell whose file is missing, truncated, altered, not Parquet, another key's,
    not a regular file, or named by its record with a name that is not the key's own.

    ``key`` the cell's key; ``path`` the file the manifest names (a label: a bad name is
    never opened); ``reason`` what is wrong. The remedy is :meth:`Store.discard` then
    recompute (the sweep does this).
    """

    def __init__(self, key: str, path, reason: str):
        super().__init__(key, path, reason)
        self.key, self.path, self.reason = key, Path(path), reason

    def __str__(self) -> str:
        return (f"cell {self.key!r} is corrupt ({self.path}): {self.reason}; "
                "discard it and recompute")


class StoreError(OSError):
    """The store could not do something at ``filename``: the file system refused (a
    read-only store, a full disk, a missing permission; ``errno`` is the OS's), or the store
    refused (a symbolic link or a non-regular file where its manifest or lock belongs, a
    manifest with several hard links). ``str()`` is one line: ``<path>: <problem>``."""

    def __str__(self) -> str:
        if self.filename is None:
            return super().__str__()
        return f"{self.filename}: {self.strerror}"


class Refused(Exception):
    """An entry of the store directory that is not a regular file (a link, a FIFO, …)."""

    def __init__(self, code: int, reason: str):
        super().__init__(reason)
        self.errno, self.reason = code, reason



# ---- names and no-follow opens ----------------------------------------------------------------

def is_own_name(name: str) -> bool:
    """Whether ``name`` is one the store gives its files (module docstring)."""
    return (name in (MANIFEST, LOCK) or _CELL_RE.fullmatch(name) is not None
            or _TEMP_RE.fullmatch(name) is not None)


def cell_name(key: str, digest: str) -> str:
    """The file name of cell ``key`` whose bytes have sha256 ``digest`` (hex)."""
    slug = re.sub(r"[^A-Za-z0-9_-]", "_", key)[:40]
    return f"{slug}.{hashlib.sha256(key.encode()).hexdigest()[:12]}.{digest[:24]}.parquet"


def open_entry(d: int, name: str, flags: int) -> int:
    """A descriptor of the store's own entry ``name`` in directory ``d``, opened with
    ``O_NOFOLLOW`` and checked (``fstat``) to be a regular file; :class:`Refused` for a
    link or anything else; FileNotFoundError if absent (without ``O_CREAT``)."""
    if not is_own_name(name):  # every caller passes a name of its own; this is the last guard
        raise ValueError(f"not a store file name: {name!r}")
    try:
        before = os.stat(name, dir_fd=d, follow_symlinks=False)
    except FileNotFoundError:
        if not flags & os.O_CREAT:
            raise
        before = None
    if before is not None and not stat.S_ISREG(before.st_mode):
        raise Refused(errno.ELOOP if stat.S_ISLNK(before.st_mode) else errno.EINVAL,
                      _kind(before.st_mode))
    try:
        fd = os.open(name, flags | _NOFOLLOW, 0o644, dir_fd=d)
    except OSError as e:
        if e.errno in (errno.ELOOP, errno.EISDIR, errno.ENXIO):
            raise Refused(e.errno, "is not a regular file") from None
        raise
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or (before is not None and
                                        (st.st_dev, st.st_ino) != (before.st_dev, before.st_ino)):
        os.close(fd)
        raise Refused(errno.EINVAL, "is not a regular file (or changed while opened)")
    return fd


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "is a symbolic link (the store never follows links)"
    if stat.S_ISDIR(mode):
        return "is a directory, not a regular file"
    return "is not a regular file"


def create_temp(d: int) -> tuple[int, str]:
    """A new temp file (:data:`TEMP_PREFIX`) in directory ``d``, created and at once flocked
    (the caller holds the store lock, so that the clean-up never sees it unlocked while its
    writer lives): (descriptor, name)."""
    while True:
        tmp = f"{TEMP_PREFIX}{os.getpid()}-{secrets.token_hex(8)}.parquet"
        try:
            fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o644, dir_fd=d)
        except FileExistsError:
            continue
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return fd, tmp


def present(d: int, entry: dict) -> bool:
    """``entry`` names the key's own file and it is a regular file (not followed)."""
    if entry["problem"] is not None:
        return False
    try:
        return stat.S_ISREG(os.stat(entry["file"], dir_fd=d, follow_symlinks=False).st_mode)
    except FileNotFoundError:
        return False


def intact(d: int, entry: dict | None, digest: str) -> bool:
    """``entry`` (a key's record, or None) has sha256 ``digest`` under the key's own name and
    its file still has those bytes."""
    if entry is None or entry["problem"] is not None or entry["sha256"] != digest:
        return False
    try:
        fd = open_entry(d, entry["file"], os.O_RDONLY)
    except (Refused, FileNotFoundError):
        return False
    with open(fd, "rb") as f:
        data = f.read(entry["bytes"] + 1)
    return hashlib.sha256(data).hexdigest() == digest


def cleanup(d: int, entries: dict[str, dict]) -> bool:
    """Delete the leftovers of dead writers (caller holds the exclusive lock): regular temp
    files nobody holds a flock on, and regular cell files no record of ``entries`` names.
    Only in a store: a directory with the manifest and nothing but the store's own names.
    Returns whether the question is settled (cleaned, or never to be cleaned)."""
    names = os.listdir(d)
    if MANIFEST not in names:
        return False  # not (yet) a store: ask again at the next write
    if not all(map(is_own_name, names)):
        return True  # foreign files: never cleaned
    referenced = {e["file"] for e in entries.values()}
    for name in names:
        temp = _TEMP_RE.fullmatch(name)
        if not (temp or _CELL_RE.fullmatch(name) and name not in referenced):
            continue
        try:
            fd = open_entry(d, name, os.O_RDONLY)
        except (Refused, FileNotFoundError):
            continue  # not a regular file (never deleted) or gone already
        try:  # a temp file's flock fails (BlockingIOError) while its writer lives
            if temp:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.unlink(name, dir_fd=d)
        except (BlockingIOError, FileNotFoundError):
            pass
        finally:
            os.close(fd)
    return True


def unlink_unreferenced(d: int, entry: dict, entries: dict[str, dict]):
    """Delete ``entry``'s file if it is the key's own name, no record of ``entries`` names
    it, and it is a regular file."""
    name = entry["file"]
    if entry["problem"] is not None or any(e["file"] == name for e in entries.values()):
        return
    with contextlib.suppress(FileNotFoundError):
        if stat.S_ISREG(os.stat(name, dir_fd=d, follow_symlinks=False).st_mode):
            os.unlink(name, dir_fd=d)


# ---- manifest records -------------------------------------------------------------------------

def parse_record(raw: bytes) -> tuple[str, str, dict | None]:
    """(key, op, entry) of one complete manifest line; ``entry`` is the put record's checked
    fields (:func:`_put_entry`), None for a discard. ValueError, KeyError, TypeError or
    RecursionError if the line is not a well-formed record (:func:`describe_error`)."""
    rec = json.loads(raw)
    if not isinstance(rec, dict):
        raise TypeError("not an object")
    key, op = rec["key"], rec["op"]
    if not isinstance(key, str) or not key:
        raise TypeError("key")
    if op == "put":
        return key, op, _put_entry(key, rec)
    if op == "discard":
        return key, op, None
    raise ValueError(f"op {op!r}")


def _put_entry(key: str, rec: dict) -> dict:
    """The entry of a put record: its fields checked (TypeError/KeyError/ValueError if
    malformed) and ``problem``, why the file it names is not the key's own (or None)."""
    entry = {f: rec[f] for f in _PUT_FIELDS}
    for f, t in _PUT_FIELDS.items():
        if not isinstance(entry[f], t) or isinstance(entry[f], bool):
            raise TypeError(f"{f} is {type(entry[f]).__name__}, not {t.__name__}")
    for f in ("bytes", "rows"):
        if entry[f] < 0:
            raise ValueError(f"{f} is negative")
    if not _SHA_RE.fullmatch(entry["sha256"]):
        raise ValueError("sha256 is not 64 lowercase hex digits")
    name = entry["file"]
    if name == cell_name(key, entry["sha256"]):
        entry["problem"] = None
    elif _CELL_RE.fullmatch(name):
        entry["problem"] = (f"the manifest names file {name!r}, which is not this key's "
                            "(its name does not carry the key's hash and the checksum)")
    else:
        entry["problem"] = f"bad file name {name!r} in the manifest (not a cell file name)"
    return entry


def describe_error(exc: BaseException) -> str:
    """Why :func:`parse_record` rejected a line, in a few words."""
    if isinstance(exc, KeyError):
        return f"no field {exc.args[0]!r}"
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    if isinstance(exc, json.JSONDecodeError):
        return "not JSON"
    return str(exc) or type(exc).__name__


def complete_prefix(fd: int, size: int) -> int:
    """Length of the file up to and including its last newline (``size`` if untorn)."""
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return size
    with open(fd, "rb", closefd=False) as f:  # a torn tail: rare (a crash), read it all
        f.seek(0)
        return f.read().rfind(b"\n") + 1


def now() -> str:
    """The time of a record: UTC, ISO 8601 to the microsecond."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def write_all(fd: int, data: bytes):
    """Write every byte of ``data`` to ``fd`` (``os.write`` may write fewer)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


# ---- a cell's table and bytes -----------------------------------------------------------------

def check_key(key) -> str:
    """``key`` if it is a non-empty str, else ValueError."""
    if not isinstance(key, str) or not key:
        raise ValueError(f"key must be a non-empty str, got {key!r}")
    return key


def check_meta(meta) -> dict:
    """A JSON round-tripped copy of ``meta`` (None: ``{}``); ValueError unless a dict with str
    keys that is JSON-serialisable."""
    if meta is None:
        return {}
    if not isinstance(meta, dict):
        raise ValueError(f"meta must be a dict, got {type(meta).__name__} {meta!r}")
    bad = [k for k in meta if not isinstance(k, str)]
    if bad:
        raise ValueError(f"meta keys must be str, got {bad[0]!r}")
    try:
        return json.loads(json.dumps(meta))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"meta must be JSON-serialisable: {exc}") from exc


def to_parquet(table, key: str) -> bytes:
    """The Parquet bytes of ``table`` with ``key`` in the schema metadata (:data:`KEY_METADATA`)."""
    if not isinstance(table, pd.DataFrame):
        raise ValueError(f"table must be a pandas DataFrame, got {type(table).__name__}")
    bad = [c for c in table.columns if not isinstance(c, str)]
    if bad:
        raise ValueError(f"table column names must be str, got {bad[0]!r}")
    if table.columns.has_duplicates:
        dup = table.columns[table.columns.duplicated()][0]
        raise ValueError(f"table has duplicate column {dup!r}")
    sink = pa.BufferOutputStream()
    try:
        arrow = pa.Table.from_pandas(table)
        arrow = arrow.replace_schema_metadata({**(arrow.schema.metadata or {}),
                                               KEY_METADATA: key.encode()})
        pq.write_table(arrow, sink)
    except (pa.ArrowException, TypeError, ValueError) as exc:
        raise ValueError(f"table cannot be written as Parquet: {exc}") from exc
    return sink.getvalue().to_pybytes()


def check_bytes(key: str, path: Path, entry: dict, data: bytes, size: int) -> None:
    """:class:`CorruptCell` unless ``data`` (read from ``key``'s file at ``path``, at most
    ``entry["bytes"] + 1`` bytes of a file of ``size``) has the recorded size and sha256."""
    if len(data) < entry["bytes"]:
        raise CorruptCell(key, path, f"truncated: {len(data)} of {entry['bytes']} bytes")
    if len(data) > entry["bytes"]:
        raise CorruptCell(key, path, f"{size} bytes, manifest says {entry['bytes']}")
    digest = hashlib.sha256(data).hexdigest()
    if digest != entry["sha256"]:
        raise CorruptCell(key, path, f"checksum mismatch: sha256 {digest[:12]}…, "
                                     f"manifest says {entry['sha256'][:12]}…")


def decode_cell(key: str, path: Path, entry: dict, data: bytes) -> pd.DataFrame:
    """The table in ``data`` (``key``'s checked bytes, :func:`check_bytes`);
    :class:`CorruptCell` if not readable Parquet, carrying another key (or none), or with
    another number of rows than ``entry`` records."""
    try:
        parquet = pq.read_table(pa.BufferReader(data))
    except Exception as exc:  # any failure to decode is corruption
        raise CorruptCell(key, path, f"unreadable Parquet: {exc}") from exc
    inside = (parquet.schema.metadata or {}).get(KEY_METADATA)
    if inside is None:
        raise CorruptCell(key, path, "the file carries no key (written by an older "
                                     "mesabase, or not by this store)")
    if inside != key.encode():
        raise CorruptCell(key, path, f"the file is cell {inside.decode(errors='replace')!r}'s, "
                                     "not this key's")
    try:
        frame = parquet.to_pandas()
    except Exception as exc:
        raise CorruptCell(key, path, f"unreadable Parquet: {exc}") from exc
    if len(frame) != entry["rows"]:
        raise CorruptCell(key, path, f"{len(frame)} rows, manifest says {entry['rows']}")
    return frame
