"""Sweeps (mesabase.sims.experiments.sweeps, the sweep CLI): keys, seeds, spec validation,
executors, resume,
corrupt cells and the ``sweep`` / ``results`` commands.

Every table comparison is exact (``assert_frame_equal(check_exact=True)``: bit for bit);
cells are tiny (2–3 seeds, 20–40 steps) so that the file runs in a few seconds.
"""

import hashlib
import json
import os
import pickle
import re
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pandas.testing import assert_frame_equal

from mesabase.sims.attribution import run
from mesabase.sims.cli import app as cli
from mesabase.sims.cli import sweep as sweep_cli
from mesabase.sims.experiments import sweeps as sw
from mesabase.sims.experiments.store import MANIFEST, Store
from mesabase.sims.experiments.sweeps import Cell, SpecError, cell_seeds, grid, load_spec, run_cell
from mesabase.sims.scenarios import get_scenario

CELLS = (grid(scenario="proxy-bandit", learner="reinforce", lr=[0.1, 0.5], seeds=3, steps=40,
              record_every=10)
         + grid(scenario="exploration-trap", learner="full", epsilon=[0.0, 0.2], seeds=2,
                steps=30, record_every=10))


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The serial table of CELLS (the oracle of the executor tests)."""
    return sw.sweep(CELLS, executor="serial", store=tmp_path_factory.mktemp("ref"))


@pytest.fixture
def counted(monkeypatch):
    """Keys of the cells computed in this process (serial sweeps), in order."""
    seen, real = [], sw.run_cell

    def counting(cell):
        seen.append(cell.key)
        return real(cell)

    monkeypatch.setattr(sw, "run_cell", counting)
    return seen


# ---- keys --------------------------------------------------------------------------------
def test_key_is_the_sha256_of_the_canonical_json():
    cell = Cell("proxy-bandit", "reinforce", steps=40, seeds=3, record_every=10,
                params={"lr": 0.25, "baseline": "mean"})
    canonical = ('{"environment":null,"learner":"reinforce","params":{"baseline":"mean",'
                 '"lr":0.25},"record_every":10,"scenario":"proxy-bandit","seeds":3,"steps":40}')
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    assert cell.digest == digest
    assert cell.key == f"proxy-bandit:reinforce:{digest[:16]}"


def test_key_ignores_dict_order_and_normalises_values():
    a = Cell("proxy-bandit", params={"lr": 1, "baseline": "mean", "gamma": 0.5})
    b = Cell("proxy-bandit", params={"gamma": np.float64(0.5), "baseline": "mean", "lr": 1.0})
    assert a.key == b.key and a == b and hash(a) == hash(b)
    assert a.params["lr"] == 1.0 and isinstance(a.params["lr"], float)


@settings(max_examples=40, deadline=None)
@given(lr=st.floats(0, 10, allow_nan=False), gamma=st.floats(0, 1),
       baseline=st.one_of(st.none(), st.just("mean"), st.floats(-5, 5)),
       order=st.permutations(["lr", "gamma", "baseline"]))
def test_key_property_order_free_and_round_trips(lr, gamma, baseline, order):
    values = {"lr": lr, "gamma": gamma, "baseline": baseline}
    cell = Cell("proxy-bandit", steps=20, seeds=2, params={k: values[k] for k in order})
    assert cell.key == Cell("proxy-bandit", steps=20, seeds=2, params=values).key
    again = Cell(**json.loads(json.dumps(cell.to_dict())))   # floats survive JSON exactly
    assert again.key == cell.key and again.params == cell.params


def test_defaults_are_resolved_into_the_key():
    sc = get_scenario("proxy-bandit")
    implicit = Cell("proxy-bandit")
    assert (implicit.learner, implicit.steps, implicit.seeds, implicit.record_every) == (
        sc.default_learner, sc.steps, sc.seeds, sc.record_every)
    assert implicit.key == Cell("proxy-bandit", "reinforce", steps=2000, seeds=20,
                                record_every=100).key


def test_every_field_changes_the_key():
    base = dict(scenario="proxy-bandit", learner="reinforce", steps=40, seeds=3,
                record_every=10, params={"lr": 0.1}, environment=None)
    variants = [base, {**base, "scenario": "proxy-bandit-control"},
                {**base, "learner": "full", "params": {}}, {**base, "steps": 41},
                {**base, "seeds": 4}, {**base, "record_every": 20},
                {**base, "params": {"lr": 0.1 + 2 ** -52}}, {**base, "environment": "train"}]
    keys = {Cell(**v).key for v in variants}
    assert len(keys) == len(variants)


def test_cell_pickles_to_an_equal_cell():
    cell = Cell("proxy-bandit", params={"schedule": ("power", 0.6), "lr": 0.3}, seeds=2)
    back = pickle.loads(pickle.dumps(cell))
    assert back == cell and back.key == cell.key and back.params == cell.params
    assert Cell(**cell.to_dict()) == cell


_KEYS_SCRIPT = """
import json
from mesabase.sims.experiments.sweeps import Cell, grid
names = {"lr": 0.25, "baseline": "mean", "gamma": 0.9, "natural": True}
order = list(set(names))                      # set order follows PYTHONHASHSEED
cells = [Cell("proxy-bandit", steps=40, seeds=3, params={k: names[k] for k in order}),
         *grid(scenario=["exploration-trap", "proxy-bandit-control"], seeds=2, steps=30)]
print(json.dumps({"order": order, "keys": [c.key for c in cells]}))
"""


def test_keys_are_the_same_in_processes_with_other_hash_seeds():
    names = {"lr": 0.25, "baseline": "mean", "gamma": 0.9, "natural": True}
    here = [Cell("proxy-bandit", steps=40, seeds=3, params=names).key,
            *(c.key for c in grid(scenario=["exploration-trap", "proxy-bandit-control"],
                                  seeds=2, steps=30))]
    procs = {seed: subprocess.Popen([sys.executable, "-c", _KEYS_SCRIPT], text=True,
                                    env={**os.environ, "PYTHONHASHSEED": seed},
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for seed in ("0", "12345")}
    orders = []
    for seed, proc in procs.items():
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        got = json.loads(out)
        assert got["keys"] == here, f"PYTHONHASHSEED={seed}"
        orders.append(tuple(got["order"]))
    assert orders[0] != orders[1]   # the dicts really were built in different orders


# ---- seeds and the cell's table ----------------------------------------------------------
def test_cell_seeds_come_from_the_seed_sequence_of_the_digest_without_the_seed_count():
    cell = CELLS[0]
    unseeded = {k: v for k, v in cell.to_dict().items() if k != "seeds"}
    text = json.dumps(unseeded, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    assert cell.seed_digest == hashlib.sha256(text.encode()).hexdigest() != cell.digest
    words = np.random.SeedSequence(int(cell.seed_digest, 16)).generate_state(
        3, dtype=np.uint64)
    expected = (words >> np.uint64(1)).astype(np.int64)
    got = cell_seeds(cell)
    assert got.dtype == np.int64 and np.array_equal(got, expected)
    assert (got >= 0).all() and len(set(got.tolist())) == 3
    assert np.array_equal(cell_seeds(pickle.loads(pickle.dumps(cell))), got)


def test_run_cell_is_the_attribution_of_run_with_those_seeds():
    cell = CELLS[1]  # proxy-bandit, lr 0.5, 3 seeds, steps 0, 10, ..., 40
    table = run_cell(cell)
    _, att = run("proxy-bandit", learner=cell.build_learner(), steps=40,
                 seeds=cell_seeds(cell), record_every=10)
    assert len(table) == 3 * 5
    assert list(table.columns[:10]) == ["key", "scenario", "learner", "environment", "steps",
                                        "n_seeds", "record_every", "lr", "seed", "step"]
    assert (table["key"] == cell.key).all() and (table["lr"] == 0.5).all()
    assert (table["environment"] == "train").all() and (table["n_seeds"] == 3).all()
    gaps = att.gaps.reset_index(drop=True)
    for col in ("seed", "step", "misspecification_gap", "data_gap", "ambiguity_gap",
                "learner_gap", "total"):
        assert np.array_equal(table[col].to_numpy(), gaps[col].to_numpy()), col
    b = att.behaviours[att.behaviours.behaviour == "pulls-proxy-arm"].reset_index(drop=True)
    assert np.array_equal(table["pulls-proxy-arm:value"], b["learner_value"])
    assert np.array_equal(table["pulls-proxy-arm:hi"], b["hi"])
    assert list(table["pulls-proxy-arm:label"]) == list(b["label"])
    # the spec gap of proxy-bandit is 0.8 - 0.2 = 0.6 by construction (its docstring)
    assert np.allclose(table["misspecification_gap"], 0.6, rtol=0, atol=1e-12)


def test_a_tuple_param_is_a_json_column_and_the_same_cell_from_toml(tmp_path):
    cell, = grid(scenario="proxy-bandit", schedule=("power", 0.6), seeds=2, steps=20,
                 record_every=10)
    assert cell.params["schedule"] == ("power", 0.6)
    assert set(run_cell(cell)["schedule"]) == {'["power", 0.6]'}
    spec = tmp_path / "s.toml"
    spec.write_text('[[grid]]\nscenario = "proxy-bandit"\nschedule = [["power", 0.6]]\n'
                    "seeds = 2\nsteps = 20\nrecord_every = 10\n")
    assert load_spec(spec) == [cell]


def test_order_columns():
    t = pd.DataFrame({"z": [1], "b:label": ["x"], "a:value": [0.1], "step": [2], "lr": [0.1],
                      "total": [0.0], "key": ["k"], "epsilon": [0.0], "seed": [7]})
    assert list(sw.order_columns(t).columns) == ["key", "epsilon", "lr", "seed", "step",
                                                 "total", "a:value", "b:label", "z"]


# ---- specs -------------------------------------------------------------------------------
def test_small_spec_is_twelve_distinct_cells():
    cells = load_spec(sw.SPECS_DIR / "small.toml")
    assert len(cells) == 12 and len({c.key for c in cells}) == 12
    assert load_spec("small") == cells and load_spec("small.toml") == cells
    assert sw.spec_name("small") == "small"
    assert {c.scenario for c in cells} == {"proxy-bandit", "proxy-bandit-control",
                                           "exploration-trap"}


def test_grid_is_a_product_and_drops_duplicates():
    cells = grid(scenario=["proxy-bandit", "proxy-bandit-control"], lr=[0.1, 0.2, 0.1],
                 seeds=[2, 3], steps=20)
    assert len(cells) == 2 * 2 * 2
    assert [(c.scenario, c.params["lr"], c.seeds) for c in cells[:3]] == [
        ("proxy-bandit", 0.1, 2), ("proxy-bandit", 0.1, 3), ("proxy-bandit", 0.2, 2)]


GRID = '[[grid]]\nscenario = "proxy-bandit"\n'


@pytest.mark.parametrize("text, key, words", [
    ("foo = 1\n" + GRID, "foo", "unknown key"),
    ("[sweep]\nseed = 3\n" + GRID, "sweep.seed", "unknown key"),
    (GRID + "lrr = 0.1\n", "grid[0].lrr", "unknown key"),
    (GRID + 'learner = "full"\nlr = 0.1\n', "grid[0].lr", "not a hyperparameter"),
    ('[sweep]\nseeds = "ten"\n' + GRID, "sweep.seeds", "integer"),
    (GRID + 'lr = "big"\n', "grid[0].lr", "real number"),
    (GRID + "lr = true\n", "grid[0].lr", "real number"),
    (GRID + "steps = 1.5\n", "grid[0].steps", "integer"),
    (GRID + 'natural = "yes"\n', "grid[0].natural", "true or false"),
    (GRID + GRID.replace("proxy-bandit", "proxy-bandits"), "grid[1].scenario",
     "unknown scenario"),
    (GRID + 'learner = "sarsa"\n', "grid[0].learner", "unknown learner"),
    ("[[grid]]\nlr = 0.1\n", "grid[0].scenario", "missing"),
    (GRID + "lr = []\n", "grid[0].lr", "empty"),
    (GRID + "lr = -1.0\n", "grid[0].lr", ">= 0"),
    (GRID + 'baseline = "median"\n', "grid[0].baseline", "baseline"),
    (GRID + 'schedule = [["cosine", 1.0]]\n', "grid[0].schedule", "power"),
    (GRID + 'environment = "deploy"\n', "grid[0].environment", "no deployment"),
    ('[sweep]\nenvironment = "space"\n' + GRID, "sweep.environment", "'train' or 'deploy'"),
    ('[[grid]]\nscenario = "keys-and-chests-shift"\nsteps = 100\n', "grid[0].steps",
     "exceed"),
    ('[[grid]]\nscenario = "keys-and-chests-shift"\nlearner = "full"\n', "grid[0].learner",
     "cannot"),
    ('[sweep]\nname = "x"\n', "grid", "[[grid]]"),
    ("[[grid]\n", "(toml)", ""),
])
def test_bad_specs_name_the_key(tmp_path, text, key, words):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(SpecError) as e:
        load_spec(path)
    assert e.value.key == key
    assert words in str(e.value) and str(e.value).startswith(f"{path}: {key}: ")
    assert isinstance(e.value, ValueError)


def test_missing_spec_file_lists_the_shipped_ones(tmp_path):
    with pytest.raises(FileNotFoundError, match="small"):
        load_spec(tmp_path / "nope.toml")


@pytest.mark.parametrize("kwargs, key", [
    (dict(scenario="nope"), "scenario"), (dict(scenario="proxy-bandit", seeds=0), "seeds"),
    (dict(scenario="proxy-bandit", steps=True), "steps"),
    (dict(scenario="proxy-bandit", params=[("lr", 1.0)]), "params"),
    (dict(scenario="proxy-bandit", params={"lr": float("nan")}), "lr"),
    (dict(scenario="proxy-bandit", environment="deploy"), "environment"),
])
def test_bad_cells_name_the_field(kwargs, key):
    with pytest.raises(SpecError) as e:
        Cell(**kwargs)
    assert e.value.key == key and str(e.value).startswith(f"{key}: ")


def test_sweep_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="executor"):
        sw.sweep(CELLS, executor="dask", store=tmp_path)
    with pytest.raises(ValueError, match="Cell"):
        sw.sweep([("proxy-bandit", 0.1)], store=tmp_path)


# ---- executors: the same table bit for bit -----------------------------------------------
def test_pool_none_and_reversed_order_give_the_serial_table(reference, tmp_path):
    assert len(reference) == 2 * 3 * 5 + 2 * 2 * 4
    assert list(reference["key"].unique()) == sorted(c.key for c in CELLS)
    with ProcessPoolExecutor(2) as pool:
        pooled = sw.sweep(CELLS, executor=pool, store=tmp_path / "pool")
    assert_frame_equal(pooled, reference, check_exact=True)
    assert_frame_equal(sw.sweep(CELLS, store=tmp_path / "none"), reference, check_exact=True)
    backwards = sw.sweep(CELLS[::-1], executor="serial", store=tmp_path / "rev")
    assert_frame_equal(backwards, reference, check_exact=True)
    assert_frame_equal(sw.sweep(CELLS, executor="serial"), reference, check_exact=True)
    stored = sw.order_columns(Store(tmp_path / "pool").table())
    assert_frame_equal(stored, reference, check_exact=True)


def test_resume_skips_finished_cells(reference, tmp_path, counted):
    store = Store(tmp_path / "s")
    sw.sweep(CELLS[:2], executor="serial", store=store)
    assert counted == [c.key for c in CELLS[:2]]
    table = sw.sweep(CELLS, executor="serial", store=store)
    assert counted[2:] == [c.key for c in CELLS[2:]]
    sw.sweep(CELLS, executor="serial", store=store)
    assert len(counted) == len(CELLS)          # the third run computed nothing
    assert_frame_equal(table, reference, check_exact=True)


def test_a_truncated_cell_is_reported_by_key_and_recomputed(reference, tmp_path, counted):
    store = Store(tmp_path / "s")
    sw.sweep(CELLS, executor="serial", store=store)
    victim = CELLS[2].key
    records = [json.loads(line) for line in (store.path / MANIFEST).read_text().splitlines()]
    path = store.path / [r for r in records if r["key"] == victim][-1]["file"]
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    del counted[:]
    with pytest.warns(RuntimeWarning, match=re.escape(victim)):
        table = sw.sweep(CELLS, executor="serial", store=store)
    assert counted == [victim]
    assert_frame_equal(table, reference, check_exact=True)
    assert store.verify() == {}


def test_keyboard_interrupt_leaves_the_finished_cells(reference, tmp_path, monkeypatch):
    real, calls = sw.run_cell, []

    def interrupted(cell):
        calls.append(cell.key)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(cell)

    monkeypatch.setattr(sw, "run_cell", interrupted)
    store = Store(tmp_path / "s")
    with pytest.raises(KeyboardInterrupt):
        sw.sweep(CELLS, executor="serial", store=store)
    assert store.keys() == sorted(calls[:2]) and store.verify() == {}
    monkeypatch.setattr(sw, "run_cell", real)
    assert_frame_equal(sw.sweep(CELLS, store=store), reference, check_exact=True)


def test_keyboard_interrupt_in_a_pooled_sweep(reference, tmp_path, monkeypatch):
    store = Store(tmp_path / "s")
    write, writes = store.write, []

    def interrupted(key, table, meta):
        writes.append(key)
        if len(writes) == 2:
            raise KeyboardInterrupt
        write(key, table, meta)

    monkeypatch.setattr(store, "write", interrupted)
    with pytest.raises(KeyboardInterrupt):
        sw.sweep(CELLS, executor=None, store=store)
    assert store.keys() == writes[:1] and store.verify() == {}
    monkeypatch.setattr(store, "write", write)
    assert_frame_equal(sw.sweep(CELLS, store=store), reference, check_exact=True)


def test_a_failing_cell_is_named(tmp_path, monkeypatch):
    real = sw.run_cell
    bad = CELLS[1].key

    def failing(cell):
        if cell.key == bad:
            raise ArithmeticError("boom")
        return real(cell)

    monkeypatch.setattr(sw, "run_cell", failing)
    store = Store(tmp_path / "s")
    with pytest.raises(RuntimeError, match=re.escape(bad)) as e:
        sw.sweep(CELLS, executor="serial", store=store)
    assert isinstance(e.value.__cause__, ArithmeticError)
    assert store.keys() == [CELLS[0].key]


def test_progress_bar_only_when_asked_or_on_a_terminal(tmp_path, capsys):
    sw.sweep(CELLS[:1], executor="serial", store=tmp_path / "a", progress=None)
    assert capsys.readouterr().err == ""                 # stderr is not a terminal here
    sw.sweep(CELLS[:1], executor="serial", store=tmp_path / "b", progress=True)
    err = capsys.readouterr().err
    assert "sweep" in err and "1/1" in err and "cell" in err


# ---- the commands ------------------------------------------------------------------------
def _reduced_small(tmp_path) -> Path:
    """small.toml with 2 seeds, 60 steps, records every 30 steps."""
    text = (sw.SPECS_DIR / "small.toml").read_text()
    for old, new in (("seeds = 8", "seeds = 2"), ("steps = 1500", "steps = 60"),
                     ("record_every = 150", "record_every = 30")):
        assert text.count(f"\n{old}\n") == 1, old
        text = text.replace(f"\n{old}\n", f"\n{new}\n")
    path = tmp_path / "small.toml"
    path.write_text(text)
    return path


def test_cli_sweep_and_results_csv(tmp_path, capsys):
    spec, out, csv = _reduced_small(tmp_path), tmp_path / "store", tmp_path / "all.csv"
    assert cli.main(["sweep", str(spec), "--executor", "local", "--workers", "2",
                     "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "12 cells, 0 already in" in text and "12 cells, 72 rows" in text
    assert cli.main(["sweep", str(spec), "--executor", "serial", "--out", str(out)]) == 0
    assert "12 already in" in capsys.readouterr().out
    assert cli.main(["results", str(out), "--csv", str(csv)]) == 0
    text = capsys.readouterr().out
    assert "12 cells, 72 rows" in text and "proxy-bandit-control" in text
    serial = sw.sweep(load_spec(spec), executor="serial")
    assert_frame_equal(sw.order_columns(Store(out).table()), serial, check_exact=True)
    back = pd.read_csv(csv, keep_default_na=False, na_values=[""])  # floats round-trip
    assert len(back) == 12 * 2 * 3 and list(back.columns) == list(serial.columns)
    assert list(back["key"]) == list(serial["key"]) and list(back["seed"]) == list(
        serial["seed"])
    for col in ("step", "total", "misspecification_gap", "lr", "epsilon", "stays-at-bank:value"):
        assert np.array_equal(back[col].to_numpy(), serial[col].to_numpy(), equal_nan=True)


def test_cli_errors(tmp_path, capsys, monkeypatch):
    bad = tmp_path / "bad.toml"
    bad.write_text(GRID + "lrr = 1.0\n")
    assert cli.main(["sweep", str(bad), "--out", str(tmp_path / "x")]) == 2
    assert "grid[0].lrr: unknown key" in capsys.readouterr().err
    assert cli.main(["sweep", "small", "--scheduler", "tcp://h:1"]) == 2
    assert "--executor dask" in capsys.readouterr().err
    assert cli.main(["sweep", "small", "--workers", "0"]) == 2
    (tmp_path / "file").write_text("")
    assert cli.main(["sweep", "small", "--out", str(tmp_path / "file")]) == 2
    assert "not a directory" in capsys.readouterr().err
    assert cli.main(["results", str(tmp_path / "none")]) == 2
    assert "no results store" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "distributed", None)   # as if not installed
    assert cli.main(["sweep", "small", "--executor", "dask",
                     "--out", str(tmp_path / "y")]) == 2
    assert "pip install mesabase[dask]" in capsys.readouterr().err


def test_results_reports_a_corrupt_cell_by_key(tmp_path, capsys):
    store = Store(tmp_path / "s")
    sw.sweep(CELLS[:2], executor="serial", store=store)
    name = next(p for p in store.path.iterdir() if p.suffix == ".parquet"
                and not p.name.startswith("."))
    name.write_bytes(name.read_bytes()[:-10])
    assert cli.main(["results", str(store.path)]) == 1
    err = capsys.readouterr().err
    assert "corrupt cell" in err and any(c.key in err for c in CELLS[:2])


def test_summarise_is_the_seed_mean_at_the_final_step(reference):
    text = sweep_cli.summarise(reference)
    last = reference[reference.step == reference.groupby("key").step.transform("max")]
    mean = last[last.scenario == "proxy-bandit"]["total"].mean()
    line = next(x for x in text.splitlines() if x.startswith("proxy-bandit "))
    assert f"{mean:.4g}" in line and "4 cells, 46 rows" in text
    assert sweep_cli.summarise(pd.DataFrame()) == "0 cells, 0 rows\n"


def test_a_cell_from_an_older_attribution_is_recomputed_not_mixed_in(tmp_path):
    """A store written before the four-term gaps (issue 13) holds tables with other gap
    columns: such a cell is stale, warned about by key, recomputed, and never used as the
    base that a larger seed count extends."""
    cell = Cell("proxy-bandit", "reinforce", steps=40, seeds=2, record_every=20)
    store = Store(tmp_path)
    fresh = sw.sweep([cell], executor="serial", store=store)
    old = fresh.rename(columns={"misspecification_gap": "spec_gap", "data_gap": "history_gap"})
    old = old.drop(columns=["ambiguity_gap"])
    meta = store.meta(cell.key)
    del meta["attribution"]
    store.write(cell.key, old, meta)
    with pytest.warns(RuntimeWarning, match=f"{re.escape(cell.key)}.*older attribution"):
        table, computed, _ = sw.sweep_with_report([cell], "serial", store, False)
    assert computed == [cell.key] and "spec_gap" not in table.columns
    assert_frame_equal(table, fresh, check_exact=True)
    assert store.meta(cell.key)["attribution"] == sw.ATTRIBUTION_VERSION
    # the stale smaller cell is not extended: the 4-seed cell runs from scratch, equal to a
    # fresh 4-seed sweep
    store.write(cell.key, old, meta)
    bigger = Cell("proxy-bandit", "reinforce", steps=40, seeds=4, record_every=20)
    table4, _, _ = sw.sweep_with_report([bigger], "serial", store, False)
    assert "extends" not in store.meta(bigger.key)
    assert_frame_equal(table4, sw.sweep([bigger], executor="serial", store=tmp_path / "b"),
                       check_exact=True)
