"""A compatibility module: ``jlonevae-plot`` under its old name (``python -m
jlonevae_lib.visualize.cli``). It runs the command line, :mod:`jlonevae_lib.cli.plot`, as the
program; code imports that module, not this one."""

if __name__ == "__main__":
    # By name: the library never imports jlonevae_lib.cli (docs/architecture.md).
    import runpy

    runpy.run_module("jlonevae_lib.cli.plot", run_name="__main__", alter_sys=True)
