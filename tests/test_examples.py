"""Every example in ``examples/`` runs at small sizes and writes its figure (issue 18, item 3).

Each example runs in its own subprocess with ``MESABASE_EXAMPLES_SMALL=1`` and
``MESABASE_EXAMPLES_OUT`` set to a fresh folder, by ``examples/run_all.py``'s own ``run``
(as ``run_all.py --small`` runs them). The examples selected in this session are started
together, two at a time (a 2-core machine), when the first test asks; each test then waits for
its own. A test fails on a non-zero exit (showing stderr) or a missing, tiny or blank figure.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
_spec = importlib.util.spec_from_file_location("examples_run_all", EXAMPLES / "run_all.py")
run_all = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run_all)
NAMES = run_all.examples()
#: A real figure: a PNG of at least this many bytes and pixels a side.
MIN_BYTES, MIN_PIXELS = 10_000, 200


def _run(name: str, folder: Path) -> subprocess.CompletedProcess:
    return run_all.run(name, folder, small=True, timeout=600)[0]


@pytest.fixture(scope="module")
def started(request, tmp_path_factory):
    """name → (future of the CompletedProcess, output folder), for the selected examples."""
    names = [item.callspec.params["name"] for item in request.session.items
             if getattr(item, "originalname", "") == "test_example_runs"]
    pool = ThreadPoolExecutor(max_workers=2)
    runs = {}
    for name in names:
        folder = tmp_path_factory.mktemp(name)
        runs[name] = (pool.submit(_run, name, folder), folder)
    yield runs
    pool.shutdown(wait=True, cancel_futures=True)


def test_examples_found():
    assert "byo_qlearner" in NAMES and len(NAMES) >= 8, NAMES


@pytest.mark.parametrize("name", NAMES)
def test_example_runs(name, started):
    future, folder = started[name]
    done = future.result()
    assert done.returncode == 0, f"{name}.py exited {done.returncode}:\n{done.stderr[-4000:]}"
    png = folder / f"{name}.png"
    assert png.is_file(), f"{name}.py wrote no {png.name}; folder has {os.listdir(folder)}"
    assert png.stat().st_size >= MIN_BYTES, (png, png.stat().st_size)
    image = imread(png)
    assert min(image.shape[:2]) >= MIN_PIXELS, image.shape
    assert np.std(image[..., :3]) > 0.02, f"{png.name} is (nearly) one colour"


def test_run_all_rejects_an_unknown_name(tmp_path):
    done = subprocess.run([sys.executable, str(EXAMPLES / "run_all.py"), "--out", str(tmp_path),
                           "no-such-example"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "no example ['no-such-example']" in done.stderr, done.stderr
