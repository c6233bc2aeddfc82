"""The metric and evaluation benchmarks run end to end in quick mode (as CI runs them)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning"),
]


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_metrics_quick(capsys):
    assert load("bench_metrics").main(["--quick"]) == 0
    out = capsys.readouterr().out
    for setting in ("global", "local"):
        line = next(line for line in out.splitlines() if line.startswith(setting))
        assert float(line.split()[-1]) < 1e-12  # max |Δ| of MI against the sklearn loop
    match = re.search(r"max \|Δ\| per cluster (\S+)", out)
    # Encoder rounding (frozen vs eager) may move a point across a bin edge; nothing more.
    assert match and float(match.group(1)) < 1e-3


def test_bench_evaluation_quick(capsys):
    assert load("bench_evaluation").main(["--quick", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "paper suite, 12 metrics" in out
    for name in ("mig", "modularity_explicitness", "local_mig_0_1", "local_modularity_1_0"):
        assert re.search(rf"\s{name}\s+\S+=", out), name
