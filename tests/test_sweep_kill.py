"""A sweep killed with SIGKILL part way loses nothing that had finished, and its rerun gives
the uninterrupted run's table bit for bit (``assert_frame_equal(check_exact=True)``).

The sweep runs as ``python -m mesabase.sims.cli sweep`` (the ``mesabase`` command) with a
2-process pool, in its own session, so that the kill takes the pool's workers too.
"""

import os
import re
import signal
import subprocess
import sys
import time

from pandas.testing import assert_frame_equal

from mesabase.sims.experiments import sweeps as sw
from mesabase.sims.experiments.store import TEMP_PREFIX, Store

N_CELLS = 10
SPEC = """
[sweep]
name = "kill"
seeds = 3
steps = 600
record_every = 60

[[grid]]
scenario = ["proxy-bandit", "proxy-bandit-control"]
learner = "reinforce"
lr = [0.05, 0.1, 0.2, 0.3, 0.5]
"""


def _mesabase(*args, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "mesabase.sims.cli", *args], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)


def test_kill_9_then_rerun_gives_the_uninterrupted_table(tmp_path):
    spec = tmp_path / "kill.toml"
    spec.write_text(SPEC)
    cells = sw.load_spec(spec)
    assert len(cells) == N_CELLS
    out = tmp_path / "killed"
    proc = _mesabase("sweep", str(spec), "--executor", "local", "--workers", "2",
                     "--out", str(out), start_new_session=True)
    deadline = time.monotonic() + 180
    try:
        while True:
            assert proc.poll() is None, f"the sweep ended before the kill: {proc.stderr.read()}"
            assert time.monotonic() < deadline, "no 2 cells finished within 180 s"
            if (out / "manifest.jsonl").exists() and len(Store(out).keys()) >= 2:
                break
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the sweep and its pool's workers
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    killed = Store(out)
    kept = killed.keys()
    assert 2 <= len(kept) < N_CELLS, "the kill should land part way through the sweep"
    assert killed.verify() == {}             # every recorded cell is whole

    rerun = _mesabase("sweep", str(spec), "--executor", "serial", "--out", str(out))
    stdout, stderr = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, stderr
    already = int(re.search(r"(\d+) already in", stdout).group(1))
    assert already >= len(kept)              # nothing that had finished was lost
    assert f"wrote {N_CELLS - already} cells" in stdout
    assert not any(p.name.startswith(TEMP_PREFIX) for p in out.iterdir())

    clean = sw.sweep(cells, executor="serial", store=tmp_path / "clean")
    resumed = sw.order_columns(Store(out).table())
    assert len(clean) == N_CELLS * 3 * 11
    assert_frame_equal(resumed, clean, check_exact=True)
