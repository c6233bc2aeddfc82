"""benchmarks/trace_baseline_step.py: oneDNN's verbose lines are summed per primitive and per
step, and the script runs end to end in quick mode (as CI runs it)."""

from __future__ import annotations

import pytest

from tests.benchmark_scripts import benchmark_script

CONV = ("onednn_verbose,v1,primitive,exec,cpu,convolution,brgconv:avx512_core,forward_training,"
        "src:f32::blocked:acdb::f0 wei:f32:a:blocked:Acdb32a::f0 bia:f32:a:blocked:a::f0 "
        "dst:f32::blocked:acdb::f0,attr-scratchpad:user,alg:convolution_direct,"
        "mb64_ic32oc32_ih32oh16kh4sh2dh0ph1_iw32ow16kw4sw2dw0pw1,{ms}")
# TensorFlow's oneDNN prints no version or "primitive" field and '_' after the argument name.
TF_REORDER = ("onednn_verbose,exec,cpu,reorder,jit:uni,undef,src_f32::blocked:cdba::f0 "
              "dst_f32::blocked:Acdb16a::f0,,,32x1x4x4,{ms}")


@pytest.fixture(scope="module")
def trace():
    with benchmark_script("trace_baseline_step") as module:
        yield module


def test_verbose_lines_are_summed_per_primitive_and_step(trace):
    lines = [CONV.format(ms=2.0), "onednn_verbose,v1,info,cpu,runtime:OpenMP", "other output",
             CONV.format(ms=4.0), TF_REORDER.format(ms=0.5), CONV.format(ms="garbled")]
    rows = trace.aggregate_onednn_verbose(lines, steps=2)
    assert [(row.kind, row.ms_per_step, row.calls_per_step) for row in rows] == [
        ("convolution", 3.0, 1.0), ("reorder", 0.25, 0.5)]
    assert rows[0].implementation == "brgconv:avx512_core"
    assert rows[0].propagation == "forward_training"
    assert rows[0].shape.startswith("mb64_ic32oc32")
    table = trace.format_primitives(rows, limit=5)
    assert "3.25 ms per step in all" in table
    assert "[src:acdb wei:Acdb32a bia:a dst:acdb]" in table
    assert "[src:cdba dst:Acdb16a]" in table


def test_quick_run_traces_operators_and_primitives(trace, capsys):
    assert trace.main(["--quick", "--onednn", "--methods", "beta_vae", "--rows", "5"]) == 0
    out = capsys.readouterr().out
    assert "=== ours: beta_vae" in out
    assert "aten::convolution_backward" in out
    total = float(out.split("oneDNN primitives: ")[1].split(" ms")[0])
    assert total > 0  # oneDNN ran and its lines were read back from the child process
