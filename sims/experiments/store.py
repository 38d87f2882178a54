"""The results store: finished sweep cells, one Parquet file each, and a manifest that says which.

    STORE/
      manifest.jsonl                          one JSON record a line: the store's only truth
      .lock                                   the fcntl.flock that serialises writers
      <slug>.<key hash>.<data hash>.parquet   one per finished cell (the bytes of its table)
      .mesabase-tmp-<pid>-<16 hex>.parquet    a writer's file in progress (never read)

A *cell* is one key (the sweep's configuration hash, any non-empty ``str``) and its tidy table
(a :class:`pandas.DataFrame`) with a small JSON ``meta`` dict. The manifest is append-only:

    {"op": "put", "key": k, "file": f, "sha256": h, "bytes": n, "rows": r, "meta": {...}, "time": t}
    {"op": "discard", "key": k, "time": t}

read in order, the last record of a key wins. A key is *recorded* when its last record is a
``put``; *finished* (:meth:`Store.has`, :meth:`Store.keys`) when in addition that record
names the key's own file (below) and the file exists as a regular file.

Why a reader never sees a half-written cell
    1. The table is serialised to Parquet in memory, hashed (sha256 of the exact bytes) and
       written to a fresh temp file in the store directory, then ``os.fsync``-ed.
    2. Under the exclusive store lock the temp file is renamed to its final name
       (``os.replace``: atomic on POSIX, the name refers to nothing or to all of the bytes)
       and the directory is fsynced, so the rename is durable before (3).
    3. Only then is the manifest record appended (one ``write``, ``O_APPEND``) and fsynced.
       A cell is in the store only once its record is a complete line, naming a file that is
       already complete and durable; ``write`` returns after (3), so a returned write
       survives a crash. A crash between (2) and (3) leaves an orphan file no record names:
       invisible, and deleted by the next writer.

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

A torn manifest line
    A writer killed during (3) can leave a last line without its newline. That ``write``
    never returned — nobody was told the cell was stored — so a torn line means "not stored".
    Readers parse complete lines only (a torn tail is ignored, never fatal); the next writer,
    under the lock, cuts the tail back to the last newline before appending, so records never
    run together.

How two writers are serialised
    Steps (2)–(3), deleting superseded files and the clean-up run under an exclusive
    ``fcntl.flock`` on ``.lock``, taken on a fresh descriptor each time, so threads,
    processes and hosts (on a file system with flock) exclude each other; step (1) runs in
    parallel, outside it. Readers hold the shared lock only while they refresh the manifest
    and open a cell's file, so the record and the file they read agree even if a writer
    replaces or discards the cell a moment later (an open file outlives its unlinking). Each
    temp file is created under the store lock and at once ``flock``-ed by its writer; the
    kernel drops that lock when the writer dies (SIGKILL included), and the clean-up deletes
    only temp files it can lock — never a live writer's.

Rewriting a key
    Identical bytes (same sha256, stored file intact): a no-op, no file and no line; the
    first ``meta`` stays. Different bytes: a new file and record replace the old, whose file
    is deleted — *last writer wins*, "last" in the order writers take the lock, so two
    concurrent writers of one key leave exactly one of their tables, whole.

Errors
    A failure of the file system (a read-only store, a full disk, no permission, the store
    path a file's child) raises :class:`StoreError` (an ``OSError`` with the OS's
    ``errno``) whose text is one line, ``<path>: <what failed>: <the OS's reason>``.
    Reading needs write access to the directory for the lock file, except on a store that
    cannot be written (a read-only store is read without creating ``.lock``).

A cell keeps its rows' order, index and dtypes (pyarrow's pandas metadata);
:meth:`Store.table` concatenates cells in sorted-key order.

Example:

    >>> import tempfile
    >>> import pandas as pd
    >>> tmp = tempfile.TemporaryDirectory()
    >>> store = Store(tmp.name)
    >>> store.write("b", pd.DataFrame({"seed": [1, 0], "gap": [0.5, 0.25]}), {"steps": 10})
    >>> store.write("a", pd.DataFrame({"seed": [0], "gap": [1.0]}), {"steps": 10})
    >>> store.keys(), store.has("a"), store.meta("b")
    (['a', 'b'], True, {'steps': 10})
    >>> store.table()
       seed   gap
    0     0  1.00
    1     1  0.50
    2     0  0.25
    >>> tmp.cleanup()

Reference: the write-temp, fsync, rename, fsync-directory protocol: T. S. Pillai et al., "All
File Systems Are Not Created Equal: On the Complexity of Crafting Crash-Consistent
Applications", OSDI 2014.
"""

from __future__ import annotations

import contextlib
import copy
import errno
import fcntl
import hashlib
import json
import os
import re
import secrets
import stat
import threading
import warnings
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

__all__ = ["CorruptCell", "StoreError", "Store", "MANIFEST", "LOCK", "TEMP_PREFIX",
           "KEY_METADATA"]

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
_READ_ONLY = (errno.EROFS, errno.EACCES, errno.EPERM)


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


class _Refused(Exception):
    """An entry of the store directory that is not a regular file (a link, a FIFO, …)."""

    def __init__(self, code: int, reason: str):
        super().__init__(reason)
        self.errno, self.reason = code, reason


class Store:
    """A directory of finished cells (created if missing); see the module docstring.

    ``path`` the directory (str or path-like; it may itself be a symbolic link you made,
    nothing inside it is followed). Raises ``ValueError`` if ``path`` is a file, or an
    existing folder that is not a store (no ``manifest.jsonl``) and holds other files;
    :class:`StoreError` if the folder cannot be created or read. Safe to share between
    threads, processes and a sweep's workers (a pickled Store reopens the directory).
    """

    def __init__(self, path):
        path = Path(path)
        self.path = path
        self._manifest = path / MANIFEST
        self._mutex = threading.RLock()
        self._cleaned = False
        self._reset()
        with self._os("cannot open the store"):
            if path.exists() and not path.is_dir():
                raise ValueError(f"path {str(path)!r} exists and is not a directory")
            path.mkdir(parents=True, exist_ok=True)
            names = os.listdir(path)
        foreign = sorted(n for n in names if not _own(n))
        if MANIFEST not in names and foreign:
            shown = ", ".join(repr(n) for n in foreign[:3]) + (", …" if foreign[3:] else "")
            raise ValueError(f"path {str(path)!r} is not a results store (it has no {MANIFEST}) "
                             f"and is not empty ({shown}); give a new or empty folder")

    def __getstate__(self):
        return {"path": str(self.path)}

    def __setstate__(self, state):
        self.__init__(state["path"])

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"

    def __contains__(self, key) -> bool:
        return self.has(key)

    # ---- public API -------------------------------------------------------------------------

    def write(self, key: str, table: pd.DataFrame, meta: dict | None = None) -> None:
        """Store ``table`` as cell ``key`` with ``meta`` (a JSON-serialisable dict, str keys).

        Returns once the cell file and its manifest record are both on disk. Identical bytes
        already stored: a no-op. Different bytes: replaced (last writer wins). Raises
        ``ValueError`` for a bad argument, :class:`StoreError` if the file system refuses
        (read-only, full: no temp file is left behind).
        """
        _check_key(key)
        meta = _check_meta(meta)
        data = _to_parquet(table, key)
        digest = hashlib.sha256(data).hexdigest()
        name = _cell_name(key, digest)
        with self._os(f"cannot write cell {key!r}"), self._dir() as d:
            self._refresh(d)
            if self._intact(d, key, digest):
                return
            fd, tmp = self._make_temp(d)
            try:
                _write_all(fd, data)
                os.fsync(fd)
                with self._lock(d, exclusive=True):
                    self._refresh(d)
                    if not self._cleaned:
                        self._cleaned = self._cleanup(d)
                    if self._intact(d, key, digest):
                        return
                    old = self._entries.get(key)
                    os.replace(tmp, name, src_dir_fd=d, dst_dir_fd=d)
                    tmp = None
                    os.fsync(d)
                    self._append(d, {"op": "put", "key": key, "file": name, "sha256": digest,
                                     "bytes": len(data), "rows": len(table), "meta": meta,
                                     "time": _now()})
                    self._refresh(d)
                    if old is not None:
                        self._unlink_unreferenced(d, old)
            finally:
                if tmp is not None:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(tmp, dir_fd=d)
                os.close(fd)

    def keys(self) -> list[str]:
        """The finished keys (a put record naming the key's own file, which is present as a
        regular file), sorted."""
        with self._os("cannot read the store"), self._dir() as d:
            with self._lock(d, exclusive=False):
                self._refresh(d)
                return [k for k in sorted(self._entries) if self._present(d, self._entries[k])]

    def has(self, key: str) -> bool:
        """Whether ``key`` is finished (:meth:`keys`). Fast: does not hash the file (a
        damaged file still counts; :meth:`verify` and :meth:`read` check it)."""
        _check_key(key)
        with self._os("cannot read the store"), self._dir() as d:
            with self._lock(d, exclusive=False):
                self._refresh(d)
                entry = self._entries.get(key)
                return entry is not None and self._present(d, entry)

    def read(self, key: str) -> pd.DataFrame:
        """The table of cell ``key``, exactly as written (row order, index, dtypes).

        Raises ``KeyError`` if ``key`` is not recorded, :class:`CorruptCell` if its record
        names a file that is not the key's own, or the file is missing, not a regular file,
        truncated, fails the sha256 check, is not readable Parquet, carries another key (or
        none), or has another number of rows than recorded.
        """
        data, entry, path = self._load(key)
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

    def verify(self, keys=None) -> dict[str, str]:
        """``{key: reason}`` for the corrupt cells among ``keys`` (default: every recorded
        key), in sorted-key order: every check of :meth:`read` (name, presence, size,
        sha256, Parquet, key, rows). Keys that are not recorded are not corrupt and are
        skipped."""
        bad = {}
        for key in self._chosen(keys):
            try:
                self.read(key)
            except KeyError:
                continue
            except CorruptCell as exc:
                bad[key] = exc.reason
        return bad

    def discard(self, key: str) -> None:
        """Forget cell ``key`` (append a ``discard`` record, delete its file if the record
        named the key's own file and no other record names it) so that it is recomputed.
        A key that is not recorded is left alone (two sweeps may both discard)."""
        _check_key(key)
        with self._os(f"cannot discard cell {key!r}"), self._dir() as d:
            with self._lock(d, exclusive=True):
                self._refresh(d)
                old = self._entries.get(key)
                if old is None:
                    return
                self._append(d, {"op": "discard", "key": key, "time": _now()})
                self._refresh(d)
                self._unlink_unreferenced(d, old)

    def meta(self, key: str) -> dict:
        """A copy of the ``meta`` dict stored with ``key`` (``KeyError`` if not recorded)."""
        entry = self._get(key)
        if entry is None:
            raise KeyError(f"no cell {key!r} in {self}")
        return copy.deepcopy(entry["meta"])

    def table(self, keys=None) -> pd.DataFrame:
        """Every cell of ``keys`` (default: every recorded key) concatenated in sorted-key
        order, each cell's rows in their own order, on a fresh RangeIndex.

        Raises :class:`CorruptCell` naming the first corrupt cell (a recorded key whose file
        was deleted is corrupt, not skipped), ``KeyError`` for a key not recorded.
        """
        frames = [self.read(key) for key in self._chosen(keys)]
        if not frames:
            return pd.DataFrame()
        return pd.concat(frames, ignore_index=True)

    def _chosen(self, keys) -> list[str]:
        """``keys`` validated, deduplicated and sorted; ``None``: every recorded key."""
        if keys is None:
            return sorted(self._snapshot())
        if isinstance(keys, str):
            raise ValueError(f"keys must be an iterable of keys, not the str {keys!r}")
        return sorted({_check_key(key) for key in keys})

    def _snapshot(self) -> dict[str, dict]:
        """The recorded entries, {key: put record}, read under the shared lock."""
        with self._os("cannot read the store"), self._dir() as d:
            with self._lock(d, exclusive=False):
                self._refresh(d)
                return dict(self._entries)

    def _get(self, key: str) -> dict | None:
        _check_key(key)
        return self._snapshot().get(key)

    # ---- the manifest -----------------------------------------------------------------------

    def _reset(self):
        self._entries: dict[str, dict] = {}
        self._offset = 0
        self._lineno = 0
        self._ident = None

    def _refresh(self, d: int):
        """Apply the manifest's complete lines appended since the last refresh."""
        with self._mutex:
            try:
                fd = self._open(d, MANIFEST, os.O_RDONLY)
            except FileNotFoundError:
                self._reset()
                return
            with open(fd, "rb") as f:
                st = os.fstat(f.fileno())
                if (st.st_dev, st.st_ino) != self._ident or st.st_size < self._offset:
                    self._reset()
                    self._ident = (st.st_dev, st.st_ino)
                f.seek(self._offset)
                data = f.read()
            end = data.rfind(b"\n") + 1  # a torn tail (no newline) is not consumed
            for raw in data[:end].split(b"\n")[:-1]:
                self._apply(raw)
            self._offset += end

    def _apply(self, raw: bytes):
        """Apply one complete line; a line that is not a well-formed record is skipped with
        a RuntimeWarning (module docstring, "What is checked")."""
        self._lineno += 1
        if not raw.strip():
            return
        try:
            rec = json.loads(raw)
            if not isinstance(rec, dict):
                raise TypeError("not an object")
            key, op = rec["key"], rec["op"]
            if not isinstance(key, str) or not key:
                raise TypeError("key")
            if op == "put":
                self._entries[key] = _entry(key, rec)
            elif op == "discard":
                self._entries.pop(key, None)
            else:
                raise ValueError(f"op {op!r}")
        except (ValueError, KeyError, TypeError, RecursionError) as exc:
            warnings.warn(f"{self._manifest}: line {self._lineno} is not a manifest record "
                          f"({_what(exc)}); ignored", RuntimeWarning, stacklevel=5)

    def _append(self, d: int, record: dict):
        """Append one record line (caller holds the exclusive lock), after cutting off a torn
        tail left by a killed writer; fsync before returning."""
        line = (json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n").encode()
        try:
            os.stat(MANIFEST, dir_fd=d, follow_symlinks=False)
            created = False
        except FileNotFoundError:
            created = True
        fd = self._open(d, MANIFEST, os.O_RDWR | os.O_APPEND | os.O_CREAT)
        try:
            st = os.fstat(fd)
            if st.st_nlink != 1:
                raise StoreError(errno.EMLINK, f"has {st.st_nlink} hard links; the store "
                                               "writes only to a manifest of its own",
                                 str(self._manifest))
            keep = _complete_prefix(fd, st.st_size)
            if keep != st.st_size:
                os.ftruncate(fd, keep)
            _write_all(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:
            os.fsync(d)

    # ---- files and locks --------------------------------------------------------------------

    @contextlib.contextmanager
    def _os(self, what: str):
        """Turn an OSError of the file system into a one-line :class:`StoreError`."""
        try:
            yield
        except StoreError:
            raise
        except OSError as e:
            where = self.path / e.filename if isinstance(e.filename, str) else self.path
            raise StoreError(e.errno, f"{what}: {e.strerror or e}", str(where)) from e

    @contextlib.contextmanager
    def _dir(self):
        """A descriptor of the store directory: every entry is reached relative to it."""
        d = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            yield d
        finally:
            os.close(d)

    def _open(self, d: int, name: str, flags: int) -> int:
        """:func:`_open_entry`, a refusal raised as :class:`StoreError` naming the path."""
        try:
            return _open_entry(d, name, flags)
        except _Refused as e:
            raise StoreError(e.errno, f"{e.reason}; refusing to use it",
                             str(self.path / name)) from None

    @contextlib.contextmanager
    def _lock(self, d: int, exclusive: bool):
        """flock on ``.lock``: exclusive for writers, shared for readers. A reader of a store
        it cannot write (read-only, no permission) reads without the lock when ``.lock``
        cannot be opened for writing: nobody can write there either."""
        try:
            fd = self._open(d, LOCK, os.O_RDWR | os.O_CREAT)
        except OSError as e:
            if exclusive or isinstance(e, StoreError) or e.errno not in _READ_ONLY:
                raise
            try:
                fd = self._open(d, LOCK, os.O_RDONLY)
            except FileNotFoundError:
                yield
                return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield
        finally:
            os.close(fd)  # releases the lock

    def _make_temp(self, d: int) -> tuple[int, str]:
        """A new temp file (:data:`TEMP_PREFIX`), created and flocked under the store lock so
        that the clean-up (also under it) never sees it unlocked while its writer lives."""
        with self._lock(d, exclusive=True):
            while True:
                tmp = f"{TEMP_PREFIX}{os.getpid()}-{secrets.token_hex(8)}.parquet"
                try:
                    fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o644,
                                 dir_fd=d)
                except FileExistsError:
                    continue
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd, tmp

    def _cleanup(self, d: int) -> bool:
        """Delete the leftovers of dead writers (caller holds the exclusive lock): regular
        temp files nobody holds a flock on, and regular cell files no record names. Only in
        a store: a directory with the manifest and nothing but the store's own names.
        Returns whether the question is settled (cleaned, or never to be cleaned)."""
        names = os.listdir(d)
        if MANIFEST not in names:
            return False  # not (yet) a store: ask again at the next write
        if not all(map(_own, names)):
            return True  # foreign files: never cleaned
        referenced = {e["file"] for e in self._entries.values()}
        for name in names:
            temp = _TEMP_RE.fullmatch(name)
            if not (temp or _CELL_RE.fullmatch(name) and name not in referenced):
                continue
            try:
                fd = _open_entry(d, name, os.O_RDONLY)
            except (_Refused, FileNotFoundError):
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

    def _unlink_unreferenced(self, d: int, entry: dict):
        """Delete ``entry``'s file if it is the key's own name, no current record names it,
        and it is a regular file."""
        name = entry["file"]
        if entry["problem"] is not None or any(e["file"] == name
                                               for e in self._entries.values()):
            return
        with contextlib.suppress(FileNotFoundError):
            if stat.S_ISREG(os.stat(name, dir_fd=d, follow_symlinks=False).st_mode):
                os.unlink(name, dir_fd=d)

    def _present(self, d: int, entry: dict) -> bool:
        """``entry`` names the key's own file and it is a regular file (not followed)."""
        if entry["problem"] is not None:
            return False
        try:
            return stat.S_ISREG(os.stat(entry["file"], dir_fd=d, follow_symlinks=False).st_mode)
        except FileNotFoundError:
            return False

    def _load(self, key: str) -> tuple[bytes, dict, Path]:
        """The verified bytes of ``key``'s file (its own name; size and sha256 as recorded)."""
        _check_key(key)
        with self._os(f"cannot read cell {key!r}"), self._dir() as d:
            with self._lock(d, exclusive=False):
                self._refresh(d)
                entry = self._entries.get(key)
                if entry is None:
                    raise KeyError(f"no cell {key!r} in {self}")
                path = self.path / entry["file"]
                if entry["problem"] is not None:
                    raise CorruptCell(key, path, entry["problem"])
                try:
                    fd = _open_entry(d, entry["file"], os.O_RDONLY)
                except FileNotFoundError:
                    raise CorruptCell(key, path, "missing file") from None
                except _Refused as e:
                    raise CorruptCell(key, path, e.reason) from None
            with open(fd, "rb") as f:  # read after the lock is released
                data = f.read(entry["bytes"] + 1)  # never more than the record allows
                size = os.fstat(f.fileno()).st_size
        if len(data) < entry["bytes"]:
            raise CorruptCell(key, path, f"truncated: {len(data)} of {entry['bytes']} bytes")
        if len(data) > entry["bytes"]:
            raise CorruptCell(key, path, f"{size} bytes, manifest says {entry['bytes']}")
        digest = hashlib.sha256(data).hexdigest()
        if digest != entry["sha256"]:
            raise CorruptCell(key, path, f"checksum mismatch: sha256 {digest[:12]}…, "
                                         f"manifest says {entry['sha256'][:12]}…")
        return data, entry, path

    def _intact(self, d: int, key: str, digest: str) -> bool:
        """``key`` is recorded with sha256 ``digest`` under its own name and its file still
        has those bytes."""
        entry = self._entries.get(key)
        if entry is None or entry["problem"] is not None or entry["sha256"] != digest:
            return False
        try:
            fd = _open_entry(d, entry["file"], os.O_RDONLY)
        except (_Refused, FileNotFoundError):
            return False
        with open(fd, "rb") as f:
            data = f.read(entry["bytes"] + 1)
        return hashlib.sha256(data).hexdigest() == digest


# ---- helpers ----------------------------------------------------------------------------------

def _own(name: str) -> bool:
    """Whether ``name`` is one the store gives its files (module docstring)."""
    return (name in (MANIFEST, LOCK) or _CELL_RE.fullmatch(name) is not None
            or _TEMP_RE.fullmatch(name) is not None)


def _open_entry(d: int, name: str, flags: int) -> int:
    """A descriptor of the store's own entry ``name`` in directory ``d``, opened with
    ``O_NOFOLLOW`` and checked (``fstat``) to be a regular file; :class:`_Refused` for a
    link or anything else; FileNotFoundError if absent (without ``O_CREAT``)."""
    if not _own(name):  # every caller passes a name of its own; this is the last guard
        raise ValueError(f"not a store file name: {name!r}")
    try:
        before = os.stat(name, dir_fd=d, follow_symlinks=False)
    except FileNotFoundError:
        if not flags & os.O_CREAT:
            raise
        before = None
    if before is not None and not stat.S_ISREG(before.st_mode):
        raise _Refused(errno.ELOOP if stat.S_ISLNK(before.st_mode) else errno.EINVAL,
                       _kind(before.st_mode))
    try:
        fd = os.open(name, flags | _NOFOLLOW, 0o644, dir_fd=d)
    except OSError as e:
        if e.errno in (errno.ELOOP, errno.EISDIR, errno.ENXIO):
            raise _Refused(e.errno, "is not a regular file") from None
        raise
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or (before is not None and
                                        (st.st_dev, st.st_ino) != (before.st_dev, before.st_ino)):
        os.close(fd)
        raise _Refused(errno.EINVAL, "is not a regular file (or changed while opened)")
    return fd


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "is a symbolic link (the store never follows links)"
    if stat.S_ISDIR(mode):
        return "is a directory, not a regular file"
    return "is not a regular file"


def _entry(key: str, rec: dict) -> dict:
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
    if name == _cell_name(key, entry["sha256"]):
        entry["problem"] = None
    elif _CELL_RE.fullmatch(name):
        entry["problem"] = (f"the manifest names file {name!r}, which is not this key's "
                            "(its name does not carry the key's hash and the checksum)")
    else:
        entry["problem"] = f"bad file name {name!r} in the manifest (not a cell file name)"
    return entry


def _what(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return f"no field {exc.args[0]!r}"
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    if isinstance(exc, json.JSONDecodeError):
        return "not JSON"
    return str(exc) or type(exc).__name__


def _check_key(key) -> str:
    if not isinstance(key, str) or not key:
        raise ValueError(f"key must be a non-empty str, got {key!r}")
    return key


def _check_meta(meta) -> dict:
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


def _to_parquet(table, key: str) -> bytes:
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


def _cell_name(key: str, digest: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9_-]", "_", key)[:40]
    return f"{slug}.{hashlib.sha256(key.encode()).hexdigest()[:12]}.{digest[:24]}.parquet"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _write_all(fd: int, data: bytes):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _complete_prefix(fd: int, size: int) -> int:
    """Length of the file up to and including its last newline (``size`` if untorn)."""
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return size
    with open(fd, "rb", closefd=False) as f:  # a torn tail: rare (a crash), read it all
        f.seek(0)
        return f.read().rfind(b"\n") + 1
