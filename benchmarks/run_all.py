"""Run every benchmark in this folder, one after the other, in separate processes.

    python benchmarks/run_all.py            # full runs (minutes each, some far longer)
    python benchmarks/run_all.py --quick    # seconds each: checks they work, as CI does

Each script prints its own table of ours vs the plain reference implementation and the ratio.
A benchmark that needs disentanglement_lib's environment is skipped, with a note, where it is
not built.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from jlonevae_lib.utils.dlib_env import default_dlib_python

HERE = Path(__file__).resolve().parent
#: Benchmarks that need disentanglement_lib's own environment (TensorFlow), and how to build it.
NEEDS_DLIB_ENV = {"bench_dlib_suite": "bash experimentScripts/train_baseline/build_dlib_env.bash"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, a few seconds each")
    parser.add_argument("--only", nargs="*", default=None,
                        help="benchmark names to run (e.g. bench_rendering)")
    args = parser.parse_args(argv)
    scripts = sorted(HERE.glob("bench_*.py"))
    if args.only:
        scripts = [s for s in scripts if s.stem in args.only]
    failed, skipped = [], []
    dlib_python = default_dlib_python(os.environ)
    for script in scripts:
        print(f"\n=== {script.stem} ===", flush=True)
        if script.stem in NEEDS_DLIB_ENV and not dlib_python.exists():
            # Not run rather than failed: the main environment alone cannot run it.
            print(f"--- {script.stem}: skipped, no {dlib_python} (build it: "
                  f"{NEEDS_DLIB_ENV[script.stem]})", flush=True)
            skipped.append(script.stem)
            continue
        start = time.perf_counter()
        result = subprocess.run([sys.executable, str(script), *(["--quick"] if args.quick else [])])
        print(f"--- {script.stem}: exit {result.returncode}, {time.perf_counter() - start:.1f} s")
        if result.returncode:
            failed.append(script.stem)
    if skipped:
        print(f"skipped: {', '.join(skipped)} (needs disentanglement_lib's environment)")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
