"""Sweeps on a Dask cluster (the optional extra ``mesabase[dask]``): a LocalCluster of two
single-threaded worker processes, started here, gives the serial table bit for bit
(``assert_frame_equal(check_exact=True)``), through ``sweep`` and through the command."""

import pytest
from pandas.testing import assert_frame_equal

distributed = pytest.importorskip("distributed")

from mesabase.sims.cli import app as cli  # noqa: E402
from mesabase.sims.experiments import sweeps as sw  # noqa: E402
from mesabase.sims.experiments.store import Store  # noqa: E402

CELLS = (sw.grid(scenario="proxy-bandit", learner="reinforce", lr=[0.1, 0.5], seeds=3,
                 steps=40, record_every=10)
         + sw.grid(scenario="exploration-trap", learner="full", epsilon=[0.0, 0.2], seeds=2,
                   steps=30, record_every=10))
SPEC = """
[sweep]
seeds = 2
steps = 30
record_every = 10

[[grid]]
scenario = ["proxy-bandit", "exploration-trap"]
learner = "reinforce"
lr = [0.1, 0.5]
"""


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                  dashboard_address=":0") as c:
        yield c


def test_dask_gives_the_serial_table(cluster, tmp_path):
    serial = sw.sweep(CELLS, executor="serial", store=tmp_path / "serial")
    with distributed.Client(cluster) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        table = sw.sweep(CELLS, executor=client.get_executor(), store=tmp_path / "dask")
        again = sw.sweep(CELLS[::-1], executor=client.get_executor())
    assert_frame_equal(table, serial, check_exact=True)
    assert_frame_equal(again, serial, check_exact=True)


def test_the_command_on_a_scheduler_and_on_its_own_cluster(cluster, tmp_path, capsys):
    spec = tmp_path / "d.toml"
    spec.write_text(SPEC)
    serial = sw.sweep(sw.load_spec(spec), executor="serial")
    assert cli.main(["sweep", str(spec), "--executor", "dask", "--scheduler",
                     cluster.scheduler_address, "--out", str(tmp_path / "a")]) == 0
    assert "4 cells, 0 already in" in capsys.readouterr().out
    assert_frame_equal(sw.order_columns(Store(tmp_path / "a").table()), serial,
                       check_exact=True)
    assert cli.main(["sweep", str(spec), "--executor", "dask", "--workers", "2",
                     "--out", str(tmp_path / "b")]) == 0      # starts and closes a cluster
    assert_frame_equal(sw.order_columns(Store(tmp_path / "b").table()), serial,
                       check_exact=True)
