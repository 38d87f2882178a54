"""The workers of a sweep's process pool exit when the sweep is SIGKILLed (issue 11, item
10): before, they went on computing, then waited forever for work from a parent that was
gone (each worker holds the other end of the pool's pipes, so no end-of-file comes).

The sweep runs as ``python -m mesabase.sims.cli sweep`` with a 2-process pool; only the
sweep's own process is killed (not its process group), as an out-of-memory killer or a
batch scheduler would. Its children are found in ``/proc``.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")

SPEC = """
[sweep]
seeds = 2
steps = 100000
record_every = 10000

[[grid]]
scenario = "proxy-bandit"
learner = "reinforce"
lr = [0.1, 0.2, 0.3, 0.4]
"""


def _stat(pid: int) -> tuple[int, str] | None:
    """(parent pid, state) of ``pid``, None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text[text.rindex(")") + 2:].split()
    return int(fields[1]), fields[0]


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (st := _stat(int(entry.name))) and st[0] == pid:
            found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    st = _stat(pid)
    return st is not None and st[1] != "Z"  # a zombie has exited (its reaper is not us)


def test_pool_workers_exit_when_the_sweep_is_killed(tmp_path):
    spec = tmp_path / "long.toml"
    spec.write_text(SPEC)
    proc = subprocess.Popen([sys.executable, "-m", "mesabase.sims.cli", "sweep", str(spec),
                             "--executor", "local", "--workers", "2", "--out",
                             str(tmp_path / "out")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    workers: set[int] = set()
    try:
        deadline = time.monotonic() + 120
        while len(workers) < 2:  # the pool's workers are the sweep's children
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "the pool did not start within 120 s"
            workers = _children(proc.pid)
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)  # the sweep only: it cannot shut its pool down
        assert proc.wait(timeout=60) == -signal.SIGKILL
        deadline = time.monotonic() + 60  # a generous bound, not a timing claim
        while any(map(_alive, workers)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(map(_alive, workers)), "workers outlived their sweep"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
        for pid in workers:  # never leave a stray process behind, whatever happened
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
