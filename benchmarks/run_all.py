"""Run every benchmark in this folder, one after the other, in separate processes.

    python benchmarks/run_all.py            # full runs (minutes each)
    python benchmarks/run_all.py --quick    # seconds each: checks they work, as CI does

Each script prints its own table of ours vs the plain reference implementation and the ratio.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


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
    failed = []
    for script in scripts:
        print(f"\n=== {script.stem} ===", flush=True)
        start = time.perf_counter()
        result = subprocess.run([sys.executable, str(script), *(["--quick"] if args.quick else [])])
        print(f"--- {script.stem}: exit {result.returncode}, {time.perf_counter() - start:.1f} s")
        if result.returncode:
            failed.append(script.stem)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
