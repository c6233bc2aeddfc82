"""Where a baseline's training step spends its time, in PyTorch and in disentanglement_lib's
TensorFlow: the traces behind benchmarks/README.md ("Traces of one step, ours and
TensorFlow's").

    .venv/bin/python benchmarks/trace_baseline_step.py [--methods beta_vae factor_vae]
        [--steps 20] [--rows 20] [--onednn] [--tf] [--quick]

For each method (the study's setting 2 on disentanglement_lib's architecture, batch 64 from the
20,000-image three-dots cache, run by ``Trainer.training_step`` as ``bench_baselines.py`` runs
it):

- **ours, by operator** (``torch.profiler``): ms per step of each ATen operator's own time, and
  the step's wall time;
- ``--onednn``: **ours, by oneDNN primitive**: the same steps in a child process with
  ``ONEDNN_VERBOSE=1``; each primitive execution (kind, implementation, propagation, memory
  formats, shape) summed per step, with the total;
- ``--tf``: **TensorFlow's step, by op type** (its step tracer, through
  ``jlonevae_lib.dlib_tf.step_time --trace`` in ``.venv-dlib``): the summed duration of its ops
  per step against the step's wall time (above 1 when ops overlap on the inter-op pool), and
  with ``--onednn`` its oneDNN primitives, summed the same way as ours.

The verbose and traced runs are slower than untraced steps; the tables are for where the time
goes and which kernels run, not for speed figures (``bench_baselines.py`` gives those).
``--quick``: two steps at batch 8 on procedural data, ours only (CI checks that it works).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from jlonevae_lib.utils.dlib_env import default_dlib_python
from jlonevae_lib.utils.timing import environ_default, load_sibling, tune_benchmark_process

MALLOC_TUNED = tune_benchmark_process(os.environ)  # before torch is imported

import argparse  # noqa: E402
import collections  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Iterable, Sequence  # noqa: E402
from dataclasses import dataclass  # noqa: E402

import torch  # noqa: E402
from torch.profiler import ProfilerActivity, profile  # noqa: E402

from jlonevae_lib.data.ground_truth import DATA_ROOT_ENV  # noqa: E402
from jlonevae_lib.train.trainer import Trainer  # noqa: E402

DEFAULT_METHODS = ("beta_vae", "factor_vae")
WARMUP = 5


@dataclass(frozen=True)
class PrimitiveRow:
    """One oneDNN primitive configuration's share of a step."""

    kind: str
    implementation: str
    propagation: str
    shape: str
    formats: str
    ms_per_step: float
    calls_per_step: float


def aggregate_onednn_verbose(lines: Iterable[str], steps: int) -> list[PrimitiveRow]:
    """oneDNN's verbose ``exec`` lines summed per primitive configuration, per step, largest
    first.

    A line reads ``onednn_verbose[,v1][,primitive],exec,cpu,<kind>,<implementation>,<prop>,
    <memory formats>,<attributes>,<auxiliary>,<shape>,<ms>`` (oneDNN 3.x; older versions lack
    the version and ``primitive`` fields, hence the search for ``exec``).
    """
    totals: dict[tuple[str, ...], list[float]] = collections.defaultdict(lambda: [0.0, 0])
    for line in lines:
        fields = line.strip().split(",")
        if not fields or fields[0] != "onednn_verbose" or "exec" not in fields:
            continue
        at = fields.index("exec")
        if len(fields) < at + 10:
            continue
        try:
            ms = float(fields[-1])
        except ValueError:
            continue
        key = (fields[at + 2], fields[at + 3], fields[at + 4], fields[-2], fields[at + 5])
        totals[key][0] += ms
        totals[key][1] += 1
    rows = [PrimitiveRow(*key, ms_per_step=ms / steps, calls_per_step=calls / steps)
            for key, (ms, calls) in totals.items()]
    return sorted(rows, key=lambda row: -row.ms_per_step)


def _format_tag(memory: str) -> str:
    """``src:f32::blocked:acdb::f0`` (or TensorFlow's ``src_f32::blocked:acdb::f0``) ->
    ``src:acdb``: the argument and its layout tag (``abcd`` is NCHW, ``acdb`` NHWC, capitals
    and digits are blocked layouts such as ``aBcd16b``)."""
    fields = memory.split(":")
    name = fields[0].split("_")[0]
    tag = fields[fields.index("blocked") + 1] if "blocked" in fields[:-1] else "undef"
    return f"{name}:{tag}"


def format_primitives(rows: list[PrimitiveRow], limit: int) -> str:
    """The largest ``limit`` rows and the total, ms per step."""
    total = sum(row.ms_per_step for row in rows)
    lines = [f"oneDNN primitives: {total:.2f} ms per step in all",
             f"{'ms/step':>8} {'calls':>5}  {'kind':<13} {'implementation':<34} "
             f"{'propagation':<16} shape  [formats]"]
    for row in rows[:limit]:
        formats = " ".join(_format_tag(part) for part in row.formats.split())
        lines.append(f"{row.ms_per_step:8.2f} {row.calls_per_step:5.1f}  {row.kind:<13} "
                     f"{row.implementation:<34} {row.propagation:<16} {row.shape}  [{formats}]")
    return "\n".join(lines)


def build_step(method: str, dataset: str, batch_size: int, output_dir: Path
               ) -> Callable[[], object]:
    """``Trainer.training_step`` of ``method`` at its study setting."""
    bench = load_sibling("bench_baselines", __file__)
    return Trainer(bench.baseline_config(method, dataset, batch_size, output_dir)).training_step


def operator_table(step: Callable[[], object], steps: int, limit: int) -> str:
    """``torch.profiler``'s self CPU time per ATen operator, ms per step, and the wall time."""
    for _ in range(WARMUP):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    wall_ms = (time.perf_counter() - start) / steps * 1e3
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    events = sorted(prof.key_averages(), key=lambda event: -event.self_cpu_time_total)
    lines = [f"wall {wall_ms:.1f} ms per step (untraced); operators' own time, ms per step:"]
    for event in events[:limit]:
        lines.append(f"{event.self_cpu_time_total / 1e3 / steps:8.2f}  {event.count / steps:5.1f}x"
                     f"  {event.key}")
    return "\n".join(lines)


def emit_onednn(method: str, dataset: str, batch_size: int, steps: int) -> None:
    """The child process of ``--onednn``: warm up, then ``steps`` steps with oneDNN's verbose
    output on (printed to stdout by oneDNN itself)."""
    with tempfile.TemporaryDirectory() as tmp:
        step = build_step(method, dataset, batch_size, Path(tmp))
        for _ in range(WARMUP):
            step()
        sys.stdout.flush()
        with torch.backends.mkldnn.verbose(torch.backends.mkldnn.VERBOSE_ON):
            for _ in range(steps):
                step()


def our_primitives(method: str, dataset: str, batch_size: int, steps: int) -> list[PrimitiveRow]:
    """Run :func:`emit_onednn` in a child process and aggregate its verbose lines."""
    done = subprocess.run(
        [sys.executable, __file__, "--emit-onednn", method, "--steps", str(steps),
         "--dataset", dataset, "--batch-size", str(batch_size)],
        capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"error: the oneDNN trace of {method} failed: "
                         f"{done.stderr.strip()[-400:]}")
    return aggregate_onednn_verbose(done.stdout.splitlines(), steps)


def tensorflow_trace(python: Path, methods: Sequence[str], steps: int, onednn: bool
                     ) -> tuple[dict, dict[str, list[PrimitiveRow]]]:
    """disentanglement_lib's steps traced in its environment: step_time's report (with
    ``"trace"``) and, with ``onednn``, each method's oneDNN primitives from a verbose run."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONWARNINGS": "ignore"}
    base = [str(python), "-m", "jlonevae_lib.dlib_tf.step_time", "--warmup", str(WARMUP),
            "--threads", str(torch.get_num_threads())]
    done = subprocess.run([*base, "--methods", *methods, "--steps", str(steps),
                           "--trace", str(steps)], capture_output=True, text=True, env=env)
    if done.returncode:
        raise SystemExit(f"error: the TensorFlow trace failed ({python}): "
                         f"{done.stderr.strip()[-400:]}")
    report = json.loads(done.stdout[done.stdout.rfind("\n{") + 1:])
    primitives = {}
    if onednn:
        for method in methods:
            primitives[method] = _tf_primitives_per_step(base, method, steps, env)
    return report, primitives


def _tf_primitives_per_step(base: list[str], method: str, steps: int, env: dict[str, str]
                            ) -> list[PrimitiveRow]:
    """TensorFlow's oneDNN primitives per steady-state step: verbose runs of ``steps`` and
    ``2 × steps`` timed steps after the same warm-up, their difference divided by ``steps`` (the
    first step's one-off work, such as weight reorders, cancels)."""
    totals = []
    for count in (steps, 2 * steps):
        done = subprocess.run([*base, "--methods", method, "--steps", str(count)],
                              capture_output=True, text=True, env={**env, "ONEDNN_VERBOSE": "1"})
        if done.returncode:
            raise SystemExit(f"error: the TensorFlow oneDNN trace of {method} failed: "
                             f"{done.stderr.strip()[-400:]}")
        totals.append({(row.kind, row.implementation, row.propagation, row.shape, row.formats):
                       row for row in aggregate_onednn_verbose(done.stdout.splitlines(), 1)})
    rows = []
    for key, row in totals[1].items():
        before = totals[0].get(key)
        ms = row.ms_per_step - (before.ms_per_step if before else 0.0)
        calls = row.calls_per_step - (before.calls_per_step if before else 0.0)
        if calls > 0:
            rows.append(PrimitiveRow(*key, ms_per_step=ms / steps, calls_per_step=calls / steps))
    return sorted(rows, key=lambda row: -row.ms_per_step)


def format_tf_trace(method: str, report: dict, limit: int) -> str:
    """One method's traced op types, ms per step, with the wall and summed op times."""
    trace = report["trace"][method]
    lines = [f"TensorFlow {method}: {report['ms_per_step'][method]:.1f} ms per untraced step; "
             f"traced {trace['wall_ms']:.1f} ms wall, ops {trace['sum_op_ms']:.1f} ms summed "
             f"({trace['sum_op_ms'] / trace['wall_ms']:.2f}x the wall: ops overlap on "
             f"{report['inter_op_threads']} inter-op threads)"]
    for op_type, ms in list(trace["op_ms"].items())[:limit]:
        lines.append(f"{ms:8.2f}  {op_type}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=list(DEFAULT_METHODS))
    parser.add_argument("--steps", type=int, default=20, help="traced steps per method")
    parser.add_argument("--rows", type=int, default=20, help="rows per table")
    parser.add_argument("--onednn", action="store_true",
                        help="add the oneDNN primitives of each step (ONEDNN_VERBOSE)")
    parser.add_argument("--tf", action="store_true",
                        help="add disentanglement_lib's TensorFlow step (needs .venv-dlib)")
    parser.add_argument("--tf-python", type=Path, default=default_dlib_python(os.environ),
                        help="disentanglement_lib's environment (default $DLIB_VENV, else "
                             ".venv-dlib)")
    parser.add_argument("--quick", action="store_true", help="2 steps at batch 8 (CI)")
    parser.add_argument("--emit-onednn", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--dataset", default="threeDotsCacheSmall", help=argparse.SUPPRESS)
    parser.add_argument("--batch-size", type=int, default=64, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.tf and not args.tf_python.exists():
        parser.error(f"--tf needs disentanglement_lib's environment ({args.tf_python} is "
                     "missing): bash experimentScripts/train_baseline/build_dlib_env.bash")
    if args.quick:
        args.steps, args.dataset, args.batch_size, args.tf = 2, "threeDots", 8, False
    # The cache goes to $DISENTANGLEMENT_LIB_DATA if set (reused), else a temporary folder.
    with tempfile.TemporaryDirectory() as tmp, \
            environ_default(DATA_ROOT_ENV, str(Path(tmp) / "data")):
        if args.emit_onednn:
            emit_onednn(args.emit_onednn, args.dataset, args.batch_size, args.steps)
            return 0
        print(f"batch {args.batch_size} from {args.dataset}, {torch.get_num_threads()} threads, "
              f"torch {torch.__version__}, glibc malloc tuned: {MALLOC_TUNED}")
        for method in args.methods:
            print(f"\n=== ours: {method}")
            print(operator_table(build_step(method, args.dataset, args.batch_size, Path(tmp)),
                                 args.steps, args.rows))
            if args.onednn:
                print(format_primitives(our_primitives(method, args.dataset, args.batch_size,
                                                       args.steps), args.rows))
        if args.tf:
            report, primitives = tensorflow_trace(args.tf_python, args.methods, args.steps,
                                                  args.onednn)
            for method in args.methods:
                print(f"\n=== TensorFlow: {method}")
                print(format_tf_trace(method, report, args.rows))
                if method in primitives:
                    print(format_primitives(primitives[method], args.rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
