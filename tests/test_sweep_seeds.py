"""Seeds extend (issue 11, item 12): a cell's seeds derive from its configuration without its
seed count, so the cell with 16 seeds starts with the 8-seed cell's seeds, and — each seed's
run being independent of the others in the vectorised batch — its rows for them are the
8-seed cell's rows, bit for bit. A sweep uses this to extend a stored cell by computing
only the new seeds; the result is the table of computing all of them at once, bit for bit.

Before: seeds came from the key (which hashes the seed count), so going from 8 to 16 seeds
changed all of them.
"""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pandas.testing import assert_frame_equal

from mesabase.sims.experiments import sweeps as sw
from mesabase.sims.experiments.store import MANIFEST, Store
from mesabase.sims.experiments.sweeps import Cell, SpecError, cell_seeds, grid, run_cell
from mesabase.sims.scenarios import SCENARIOS, get_scenario

PER_SEED = ["key", "n_seeds"]  # the only columns that name the cell, not the seed


def _rows_of_first(table, seeds):
    """The rows of ``seeds`` in ``table``, in the table's order, without PER_SEED."""
    part = table[table["seed"].isin(seeds)].reset_index(drop=True)
    return part.drop(columns=PER_SEED)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 20), extra=st.integers(1, 20), lr=st.floats(0, 2),
       scenario=st.sampled_from(["proxy-bandit", "exploration-trap"]))
def test_the_seeds_of_a_smaller_cell_are_a_prefix(n, extra, lr, scenario):
    small, big = grid(scenario=scenario, learner="reinforce", lr=lr, seeds=[n, n + extra],
                      steps=10)
    assert small.seed_digest == big.seed_digest and small.key != big.key
    assert np.array_equal(cell_seeds(big)[:n], cell_seeds(small))
    assert len(set(cell_seeds(big).tolist())) == n + extra
    other, = grid(scenario=scenario, learner="reinforce", lr=lr + 1, seeds=n, steps=10)
    assert other.seed_digest != small.seed_digest  # any other field: other seeds


def test_eight_seeds_are_the_first_eight_of_sixteen_bit_for_bit():
    eight, sixteen = grid(scenario="proxy-bandit", learner="reinforce", lr=0.3,
                          seeds=[8, 16], steps=200, record_every=20)
    a, b = run_cell(eight), run_cell(sixteen)
    first = cell_seeds(sixteen)[:8]
    assert sorted(set(a["seed"])) == sorted(first.tolist())
    assert_frame_equal(a.drop(columns=PER_SEED), _rows_of_first(b, first), check_exact=True)


def _cells_of_every_scenario(seeds):
    """A small cell of every registered scenario and learner a cell may run."""
    cells = []
    for name in SCENARIOS:
        sc = get_scenario(name)
        steps, every = (sc.shift_step + 400, 400) if sc.shift_step else (40, 10)
        for learner in sc.learners:
            try:
                cells.append(Cell(name, learner, steps=steps, seeds=seeds, record_every=every))
            except SpecError:  # e.g. a learner that cannot go on after a shift
                continue
    return cells


@pytest.mark.parametrize("small", _cells_of_every_scenario(2), ids=lambda c: c.key)
def test_per_seed_rows_do_not_depend_on_the_batch(small):
    """The vectorised run gives each seed the rows it gets alone or in a bigger batch (the
    premise of extending); checked for every scenario and learner."""
    big = Cell(**{**small.to_dict(), "seeds": 4})
    first = cell_seeds(big)[:2]
    assert np.array_equal(cell_seeds(small), first)
    assert_frame_equal(run_cell(small).drop(columns=PER_SEED),
                       _rows_of_first(run_cell(big), first), check_exact=True)


@pytest.fixture
def calls(monkeypatch):
    """(key, first_seed) of each run_cell in this process."""
    seen, real = [], sw.run_cell

    def counting(cell, first_seed=0):
        seen.append((cell.key, first_seed))
        return real(cell, first_seed)

    monkeypatch.setattr(sw, "run_cell", counting)
    return seen


@pytest.mark.parametrize("scenario, learner, steps, every", [
    ("proxy-bandit", "reinforce", 60, 20), ("exploration-trap", "full", 40, 10),
    ("keys-and-chests-shift", "reinforce-linear", 8400, 400),  # train rows, then deploy rows
])
def test_a_sweep_extends_a_stored_cell_computing_only_the_new_seeds(tmp_path, calls, scenario,
                                                                    learner, steps, every):
    small, big = grid(scenario=scenario, learner=learner, seeds=[2, 4], steps=steps,
                      record_every=every)
    store = Store(tmp_path / "s")
    sw.sweep([small], executor="serial", store=store)
    extended = sw.sweep([big], executor="serial", store=store)
    assert calls == [(small.key, 0), (big.key, 2)]  # only seeds 2 and 3 ran
    assert store.meta(big.key)["extends"] == small.key and store.has(small.key)
    fresh = sw.sweep([big], executor="serial", store=tmp_path / "fresh")
    assert_frame_equal(extended, fresh, check_exact=True)
    assert store.read(big.key).equals(Store(tmp_path / "fresh").read(big.key))


def test_the_largest_stored_cell_is_extended_and_a_pool_gives_the_same(tmp_path, calls):
    two, three, five = grid(scenario="proxy-bandit", learner="reinforce", seeds=[2, 3, 5],
                            steps=40, record_every=10)
    store = Store(tmp_path / "s")
    sw.sweep([two, three], executor="serial", store=store)
    del calls[:]
    from concurrent.futures import ProcessPoolExecutor
    with ProcessPoolExecutor(2) as pool:  # the new seeds run in a worker
        extended = sw.sweep([five], executor=pool, store=store)
    assert store.meta(five.key)["extends"] == three.key
    assert_frame_equal(extended, sw.sweep([five], executor="serial"), check_exact=True)


def test_a_forged_base_is_not_extended(tmp_path, calls):
    """The stored cell's meta is untrusted: one that does not rebuild to its own key is not
    used, nor one whose rows are not exactly its seeds."""
    small, big = grid(scenario="proxy-bandit", learner="reinforce", seeds=[2, 4], steps=40,
                      record_every=10)
    store = Store(tmp_path / "s")
    sw.sweep([small], executor="serial", store=store)
    lines = (store.path / MANIFEST).read_text().splitlines()
    rec = json.loads(lines[-1])
    rec["meta"]["cell"]["params"] = {"lr": 0.123}  # claims another configuration
    store.path.joinpath(MANIFEST).write_text("\n".join([*lines, json.dumps(rec)]) + "\n")
    del calls[:]
    table = sw.sweep([big], executor="serial", store=store)
    assert calls == [(big.key, 0)]
    assert_frame_equal(table, sw.sweep([big], executor="serial"), check_exact=True)
