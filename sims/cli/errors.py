"""Which exceptions are a user's mistake, and the one line and exit code the ``mesabase``
command prints for each (:func:`mesabase.sims.cli.main`; the codes are in
:mod:`mesabase.sims.files`)."""

from __future__ import annotations

import os

from ..files import FAILED, USAGE, PathError, reason

__all__ = ["user_errors", "describe"]


def user_errors() -> tuple[type[BaseException], ...]:
    """The exception classes that are a user's mistake, not mesabase's: OSError (files),
    UnicodeDecodeError (an input that is not text) and the library's invalid-input
    errors (:class:`~mesabase.theory.mdp.InvalidMDP`,
    :class:`~mesabase.sims.experiments.cells.SpecError`,
    :class:`~mesabase.sims.envs.gridmap.MapError`,
    :class:`~mesabase.sims.experiments.store.CorruptCell`).
    Anything else is a bug and keeps its traceback."""
    from mesabase.theory.mdp import InvalidMDP

    from ..envs.gridmap import MapError
    from ..experiments.cells import SpecError
    from ..experiments.store import CorruptCell

    return (OSError, UnicodeDecodeError, InvalidMDP, SpecError, MapError, CorruptCell)


def describe(e: BaseException) -> tuple[str, int]:
    """(one line without the ``mesabase: `` prefix, exit code) for a user error ``e`` (one
    of :func:`user_errors`): a :class:`PathError` as it reads; another OSError as ``PATH:
    REASON`` (``PATH -> PATH2`` for a rename), or its message when it names no file; the
    others as their message, on one line."""
    if isinstance(e, PathError):
        return str(e), e.exit_code
    if isinstance(e, OSError):
        code = USAGE if isinstance(e, FileNotFoundError) else FAILED
        if e.filename is None:  # the message is all there is (pyarrow puts the path in it)
            text = " ".join(str(e.strerror or e).split())
            return text or reason(e), code
        where = os.fsdecode(e.filename)
        if e.filename2 is not None:
            where += f" -> {os.fsdecode(e.filename2)}"
        return f"{where}: {reason(e)}", code
    if isinstance(e, UnicodeDecodeError):
        return f"an input is {reason(e)}", USAGE
    text = " ".join(str(e).split()) or type(e).__name__
    from ..experiments.store import CorruptCell

    return text, FAILED if isinstance(e, CorruptCell) else USAGE
