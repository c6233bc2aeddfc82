"""The shared pieces of every study's report (jlonevae_lib/reports/text.py)."""

from __future__ import annotations

from pathlib import Path

from jlonevae_lib.reports.text import command_block

REPO = Path(__file__).resolve().parents[2]


def test_a_reproduce_scripts_command_says_how_to_write_over_committed_results() -> None:
    sweep = "jlonevae-sweep run cpu_penalty_study --jobs 2"
    assert command_block(sweep) == ["```bash", sweep, "```", ""]
    script = "OUTPUT_DIR=results/cpu_study bash experimentScripts/reproduce/cpu_study.bash"
    lines = command_block(script)
    assert lines[:4] == ["```bash", script, "```", ""]
    assert "`REPLACE=1`" in lines[4] and lines[5] == ""
    # Naming a folder without REPLACE=1, as commands recorded before the guard do: refused.
    assert "is refused where the folder it names holds committed results" in lines[4]
    named = "bash experimentScripts/reproduce/cpu_study.bash --results-dir results/cpu_study"
    assert "refused" in command_block(named)[4]
    for fresh_or_replacing in (script.removeprefix("OUTPUT_DIR=results/cpu_study "),
                               "REPLACE=1 " + script, "REPLACE='1' " + script,
                               script + " --replace", named + " --replace"):
        note = command_block(fresh_or_replacing)[4]
        assert "`REPLACE=1`" in note and "refused" not in note
    # The note describes the scripts' own rule: the guard and REPLACE are in common.bash.
    common = (REPO / "experimentScripts" / "reproduce" / "common.bash").read_text()
    assert "REPLACE" in common and "holds committed results" in common


def test_a_p_value_is_never_printed_on_the_wrong_side_of_alpha() -> None:
    """Two significant digits unless they would round onto or across α."""
    from jlonevae_lib.reports.text import p_text

    assert [p_text(p, 0.05) for p in (0.25, 0.0012, 1.0, 0.05)] == ["0.25", "0.0012", "1", "0.05"]
    assert p_text(0.0496, 0.05) == "0.0496" and p_text(0.0504, 0.05) == "0.0504"
    assert p_text(0.04996, 0.05) == "0.04996"
    for p in (0.049999999, 0.0500000001, 0.0499, 0.0501):
        shown = float(p_text(p, 0.05))
        assert (shown <= 0.05) == (p <= 0.05) and shown != 0.05
    assert p_text(None, 0.05) == "–"
