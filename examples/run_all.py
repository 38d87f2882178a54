"""Run every example in its own subprocess and collect the figures.

    python examples/run_all.py --out docs/gallery          # full sizes: docs/gallery/<name>.png
    python examples/run_all.py --out /tmp/ex --small       # the test suite's small sizes
    python examples/run_all.py --out /tmp/ex dichotomy     # only the named examples

Each example runs with the interpreter running this script, ``MESABASE_EXAMPLES_OUT`` set to
the output folder (absolute) and ``MESABASE_EXAMPLES_SMALL`` to 1 with ``--small`` (unset
otherwise), from a temporary working directory, so that nothing but the figures lands in
the output folder. Prints one line per example (status, seconds); exits 1 if any failed,
after printing the failures' stderr.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def examples() -> list[str]:
    """The examples' names (``examples/<name>.py``; not this script, nor ``_*.py``), sorted,
    as docs/hooks/gallery.py finds them."""
    return sorted(p.stem for p in HERE.glob("*.py")
                  if p.name != Path(__file__).name and not p.name.startswith("_"))


def run(name: str, out: Path, small: bool, timeout: float = 900.0):
    """Run ``examples/<name>.py``: the CompletedProcess and the wall time in seconds."""
    env = dict(os.environ, MESABASE_EXAMPLES_OUT=str(out.resolve()), MPLBACKEND="Agg")
    env.pop("MESABASE_EXAMPLES_SMALL", None)
    if small:
        env["MESABASE_EXAMPLES_SMALL"] = "1"
    with tempfile.TemporaryDirectory(prefix=f"mesabase-example-{name}-") as cwd:
        t = time.perf_counter()
        done = subprocess.run([sys.executable, str(HERE / f"{name}.py")], cwd=cwd, env=env,
                              capture_output=True, text=True, timeout=timeout)
        return done, time.perf_counter() - t


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="examples to run (default: all)")
    parser.add_argument("--out", required=True, type=Path, help="folder for <name>.png")
    parser.add_argument("--small", action="store_true", help="small sizes (as the tests)")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(examples()))
    if unknown:
        parser.error(f"no example {unknown}; choose from {', '.join(examples())}")
    args.out.mkdir(parents=True, exist_ok=True)
    failed, total = [], 0.0
    for name in args.names or examples():
        done, seconds = run(name, args.out, args.small)
        total += seconds
        ok = done.returncode == 0 and (args.out / f"{name}.png").is_file()
        print(f"{'ok  ' if ok else 'FAIL'} {name:<22} {seconds:6.1f} s", flush=True)
        if not ok:
            failed.append((name, done))
    print(f"{'small' if args.small else 'full'} sizes, total {total:.1f} s; figures in "
          f"{args.out}")
    for name, done in failed:
        print(f"\n--- {name}: exit code {done.returncode} ---\n{done.stderr}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
