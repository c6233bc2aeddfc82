"""``python -m jlonevae_lib.sweep.seven_arms_summary``: the older name of ``python -m
jlonevae_lib.cli.seven_arms_summary``, kept working. The report itself is
:mod:`jlonevae_lib.reports.seven_arms`, which names the report's other modules."""

from __future__ import annotations

if __name__ == "__main__":
    # ``python -m`` of this module: run its command line as the program, by name (the library
    # never imports jlonevae_lib.cli).
    import runpy

    runpy.run_module("jlonevae_lib.cli.seven_arms_summary", run_name="__main__", alter_sys=True)
