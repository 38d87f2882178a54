"""The ``mesabase prove`` and ``mesabase claims`` commands.

Registered with the ``mesabase`` command (:mod:`mesabase.sims.cli`) through the entry-point
group ``mesabase.commands`` in ``pyproject.toml``, so that the CLI in mesabase.sims never
imports mesabase.proofs, which stands above it (proofs → sims → theory).
"""

from __future__ import annotations

import sys
import time

__all__ = ["COMMANDS", "add_parsers", "dispatch", "prove", "claims"]

#: The commands this module adds.
COMMANDS = ("prove", "claims")


def _timed(fn, *args, **kwargs):
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t


# ---- the claims --------------------------------------------------------------------------
def claims(max_examples: int = 60, seed: int = 0, out=None) -> int:
    """Check every claim of :data:`mesabase.proofs.claims.REGISTRY` and print the table
    (claim, expected, found, counterexample). Returns 1 when a finding disagrees with its
    expected verdict, else 0."""
    import pandas as pd

    from .claims import run_registry

    out = out or sys.stdout
    table, t = _timed(run_registry, max_examples=max_examples, seed=seed)
    cols = ["claim", "expected", "found", "counterexample"]
    with pd.option_context("display.max_colwidth", 90, "display.width", 200):
        out.write(table[cols].to_string(index=False) + "\n")
    bad = table[~table["agrees"]]
    out.write(f"\n{len(table)} claims, max_examples={max_examples}, seed={seed}, "
              f"{t:.1f} s: " + ("every finding agrees with its expectation\n" if bad.empty
                                else f"{len(bad)} DISAGREE: {', '.join(bad['claim'])}\n"))
    return 0 if bad.empty else 1


# ---- the proofs ---------------------------------------------------------------------------
def prove(name: str | None = None, fmt: str = "md", out_dir=None, out=None,
          standalone: bool = False) -> int:
    """Establish the proofs of :data:`mesabase.proofs.PROOFS` (one, or all) and print them as
    Markdown or LaTeX; with ``out_dir`` write one file per proof (``NAME.md`` / ``NAME.tex``)
    instead (the folder is created if missing, and ``out`` says so; a file that cannot be
    written raises :class:`~mesabase.sims.files.PathError`). With ``standalone`` (LaTeX
    only) the output is a complete document that compiles with pdflatex
    (:func:`~mesabase.proofs.tex.latex_document`): one holding every proof printed, or one
    per file. Returns 1 if a proof does not hold, else 0; a ``fmt`` other than ``"md"`` /
    ``"latex"``, or ``standalone`` with Markdown, raises :class:`ValueError`."""
    from pathlib import Path

    from mesabase.sims.files import atomic_write, make_folder

    from . import PROOFS
    from .tex import latex_document

    if fmt not in ("md", "latex"):
        raise ValueError(f"fmt must be 'md' or 'latex'; got {fmt!r}")
    if standalone and fmt != "latex":
        raise ValueError("standalone documents are LaTeX only: use fmt='latex'")
    out = out or sys.stdout
    names = list(PROOFS) if name is None else [name]
    if out_dir is not None:
        make_folder(out_dir, out)
    ok, printed = True, []
    for n in names:
        proof = PROOFS[n]()
        ok &= bool(proof.holds)
        text = proof.to_markdown() if fmt == "md" else proof.to_latex()
        if out_dir is None:
            if standalone:
                printed.append(text)
            else:
                out.write(text + "\n")
            continue
        if standalone:
            text = latex_document([text], title=f"mesabase proof: {n}")
        path = Path(out_dir) / f"{n}.{'md' if fmt == 'md' else 'tex'}"
        atomic_write(path, lambda p, text=text: p.write_text(text, encoding="utf-8"))
        out.write(f"{path}: {'holds' if proof.holds else 'DOES NOT HOLD'}\n")
    if printed:
        out.write(latex_document(printed, title="mesabase proofs"))
    return 0 if ok else 1


def add_parsers(sub) -> None:
    """Add ``prove`` and ``claims`` to the ``mesabase`` subcommand parsers ``sub``."""
    from . import PROOFS

    pr = sub.add_parser("prove", help="establish the argument's statements in sympy and print "
                                      "them as Markdown or LaTeX")
    pr.add_argument("name", nargs="?", choices=list(PROOFS), metavar="NAME",
                    help=f"one proof (default all): {', '.join(PROOFS)}")
    pr.add_argument("--format", choices=("md", "latex"), default="md")
    pr.add_argument("--out", metavar="DIR", help="write one file per proof into DIR")
    pr.add_argument("--standalone", action="store_true",
                    help="with --format latex: a complete document that compiles with "
                         "pdflatex (one per file with --out)")
    c = sub.add_parser("claims", help="check the argument's claims (true and false) with "
                                      "hypothesis and print the findings")
    c.add_argument("--max-examples", type=int, default=60, metavar="N",
                   help="cases hypothesis tries per claim (default 60)")
    c.add_argument("--seed", type=int, default=0, help="hypothesis seed (default 0)")


def dispatch(parser, args) -> int:
    """Run ``args.command`` (one of :data:`COMMANDS`); returns the exit code."""
    if args.command == "prove":
        if args.standalone and args.format != "latex":
            parser.error("--standalone needs --format latex")
        return prove(args.name, args.format, args.out, standalone=args.standalone)
    if args.max_examples < 1:
        parser.error(f"--max-examples must be >= 1; got {args.max_examples}")
    return claims(args.max_examples, seed=args.seed)
