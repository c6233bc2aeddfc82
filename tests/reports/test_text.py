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
    # The note describes the scripts' own rule: the guard and REPLACE are in common.bash.
    common = (REPO / "experimentScripts" / "reproduce" / "common.bash").read_text()
    assert "REPLACE" in common and "holds committed results" in common
