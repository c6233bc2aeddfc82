"""A compatibility module: ``jlonevae-train`` under the reference's names (this file's path,
``python -m jlonevae_lib.train.train_jlonevae_models``). It runs the command line,
:mod:`jlonevae_lib.cli.train`, as the program; code imports that module, not this one."""

if __name__ == "__main__":
    # By name: the library never imports jlonevae_lib.cli (docs/architecture.md).
    import runpy

    runpy.run_module("jlonevae_lib.cli.train", run_name="__main__", alter_sys=True)
