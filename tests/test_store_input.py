"""The results store on bad input (each error names the argument) and pickling."""

import pickle

import numpy as np
import pandas as pd
import pytest

from mesabase.sims.experiments.store import LOCK, MANIFEST, CorruptCell, Store


def _cell_frame(i: int, n: int = 50) -> pd.DataFrame:
    rng = np.random.default_rng(i)
    return pd.DataFrame({"i": np.full(n, i, dtype=np.int64), "seed": np.arange(n)[::-1],
                         "x": rng.standard_normal(n)})


def _three(path) -> Store:
    store = Store(path)
    for k in "abc":
        store.write(k, _cell_frame(ord(k)), {"k": k})
    return store


@pytest.mark.parametrize("key", ["", 3, None, b"k"])
def test_bad_key(tmp_path, key):
    store = Store(tmp_path)
    for call in (lambda: store.write(key, _cell_frame(0), {}), lambda: store.has(key),
                 lambda: store.read(key), lambda: store.discard(key), lambda: store.meta(key)):
        with pytest.raises(ValueError, match=r"key must be a non-empty str, got " + repr(key)):
            call()


@pytest.mark.parametrize("table, match", [
    ({"x": [1]}, "table must be a pandas DataFrame, got dict"),
    (pd.DataFrame({0: [1]}), "column names must be str, got 0"),
    (pd.DataFrame([[1, 2]], columns=["x", "x"]), "duplicate column 'x'"),
    (pd.DataFrame({"x": pd.Series([1, "a"], dtype=object)}), "cannot be written as Parquet"),
])
def test_bad_table(tmp_path, table, match):
    with pytest.raises(ValueError, match=match):
        Store(tmp_path).write("k", table, {})
    assert not (tmp_path / MANIFEST).exists()
    assert [p.name for p in tmp_path.iterdir() if p.name != LOCK] == []


@pytest.mark.parametrize("meta, match", [
    ([1], "meta must be a dict, got list"),
    ({1: "a"}, "meta keys must be str, got 1"),
    ({"f": object()}, "meta must be JSON-serialisable"),
])
def test_bad_meta(tmp_path, meta, match):
    with pytest.raises(ValueError, match=match):
        Store(tmp_path).write("k", _cell_frame(0), meta)


def test_bad_path_and_keys_argument(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(ValueError, match=r"path '.*f' exists and is not a directory"):
        Store(tmp_path / "f")
    store = _three(tmp_path / "s")
    for call in (store.table, store.verify):
        with pytest.raises(ValueError, match="keys must be an iterable of keys, not the str 'a'"):
            call("a")
    with pytest.raises(KeyError, match="no cell 'zz'"):
        store.meta("zz")
    store.write("n", _cell_frame(0), None)  # meta defaults to {}
    assert store.meta("n") == {}


def test_store_and_corrupt_cell_pickle(tmp_path):
    store = _three(tmp_path)
    again = pickle.loads(pickle.dumps(store))
    assert again.path == store.path and again.keys() == ["a", "b", "c"]
    err = pickle.loads(pickle.dumps(CorruptCell("k", tmp_path / "f", "missing file")))
    assert (err.key, err.path, err.reason) == ("k", tmp_path / "f", "missing file")
