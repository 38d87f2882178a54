"""``mesabase cruxes`` and the crux model in the demo's results folder (cruxes.csv,
cruxes.png|svg, the report section)."""

import csv
import io
from fractions import Fraction

import pandas as pd
import pytest
from figure_checks import check_post_figure

from mesabase.sims.cli import app as cli
from mesabase.sims.reports.crux_figures import (
    TORNADO_COLUMNS,
    crux_report,
    plot_tornado,
    read_tornado,
    tornado_frame,
    write_cruxes,
)
from mesabase.sims.reports.report import update_results
from mesabase.theory import CRUX_SOURCE, CRUXES, PARTICIPANTS, CruxModel, participant_range

MODEL = CruxModel()


def test_cruxes_prints_the_table_the_sources_and_each_outcome_range(capsys):
    assert cli.main(["cruxes"]) == 0
    out = capsys.readouterr().out
    assert CRUX_SOURCE in out and "alignmentforum.org/posts/WmBukJkEFM72Xr397" in out
    assert "| crux | node | participant A | participant B | source sentences |" in out
    for c in CRUXES:
        assert c.question in out
    for key, p in PARTICIPANTS.items():
        for e in p.estimates.values():
            assert e.quote.replace("|", "\\|") in out
        rng, base = participant_range(MODEL, key)
        assert f"[{rng.low}, {rng.high}]" in out                 # exact bounds
        assert f"{float(base):.6g}" in out
    assert "shown over [0, 1]" in out                             # declined nodes say so
    assert "## Sensitivity" in out and "## Crossovers" in out


def test_cruxes_csv_is_one_row_per_node_then_the_outcomes(capsys):
    assert cli.main(["cruxes", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    nodes = [n for c in CRUXES for n in c.nodes]
    assert [r["node"] for r in rows[:len(nodes)]] == nodes
    for r in rows[:len(nodes)]:
        for key, p in PARTICIPANTS.items():
            e = p.estimates[r["node"]]
            assert (Fraction(r[f"{key}_low"]), Fraction(r[f"{key}_high"])) == e.interval
            assert r[f"{key}_source"] == e.quote
    outcomes = rows[len(nodes):]
    assert len(outcomes) == len(PARTICIPANTS)
    for r, key in zip(outcomes, PARTICIPANTS, strict=True):
        rng, _ = participant_range(MODEL, key)
        assert (Fraction(r[f"{key}_low"]), Fraction(r[f"{key}_high"])) == (rng.low, rng.high)


@pytest.mark.parametrize("argv", [["cruxes", "--format", "xml"], ["cruxes", "--bogus"]])
def test_a_bad_option_is_one_line_and_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert err.startswith("mesabase cruxes: error:") or err.startswith("mesabase: error:")


def test_crux_report_refuses_an_unknown_format():
    with pytest.raises(ValueError, match="md, csv"):
        crux_report("xml")


def test_the_tornado_table_matches_the_model():
    df = tornado_frame(MODEL)
    assert list(df.columns) == list(TORNADO_COLUMNS)
    assert len(df) == len(PARTICIPANTS) * len(MODEL.nodes)
    for key, d in df.groupby("participant"):
        rng, base = participant_range(MODEL, key)
        assert (d.range_low == float(rng.low)).all() and (d.outcome == float(base)).all()
        assert list(d.swing) == sorted(d.swing, reverse=True)
        assert d.most_sensitive.iloc[0]
        for r in d.itertuples():
            lo, hi = sorted((r.at_zero, r.at_one))
            assert lo - 1e-12 <= r.outcome <= hi + 1e-12      # the baseline is on each bar


def test_the_demo_hook_writes_the_table_figure_and_report_section(tmp_path):
    buf = io.StringIO()
    assert cli.run_scenarios([], tmp_path, sizes={}, stream=buf, cruxes=True, dpi=80) == 0
    for name in ("cruxes.csv", "cruxes.png", "cruxes.svg"):
        assert (tmp_path / name).stat().st_size > 5_000 or name == "cruxes.csv", name
    df = read_tornado(tmp_path)
    pd.testing.assert_frame_equal(df, tornado_frame(MODEL), check_dtype=False)
    text = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "## cruxes:" in text and "](cruxes.png)" in text
    for key in PARTICIPANTS:
        assert f"| {key} | " in text
    check_post_figure(plot_tornado(df), ["cruxes"])
    # a later report of the same folder keeps the section, redrawn from the saved table
    (tmp_path / "cruxes.png").unlink()
    update_results(tmp_path, dpi=80)
    assert (tmp_path / "cruxes.png").exists()


def test_a_broken_cruxes_table_is_a_one_line_error(tmp_path, capsys):
    write_cruxes(tmp_path)
    pd.read_csv(tmp_path / "cruxes.csv").drop(columns="swing").to_csv(tmp_path / "cruxes.csv")
    from mesabase.sims.files import PathError

    with pytest.raises(PathError, match="cruxes.csv: not a mesabase cruxes table"):
        read_tornado(tmp_path)
