"""A compatibility module: the original's natural-image training script under its name (this
file's path, ``python -m`` of this module). It runs the command line,
:mod:`jlonevae_lib.cli.train_original`, as the program; code imports that module, not this
one."""

if __name__ == "__main__":
    # By name: the library never imports jlonevae_lib.cli (docs/architecture.md).
    import runpy

    runpy.run_module("jlonevae_lib.cli.train_original", run_name="__main__", alter_sys=True)
