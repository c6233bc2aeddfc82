"""Every command line of the package: flags, environment, printing; the work is the library's.

One module per command, each with a ``main(argv=None) -> int`` wrapped in
:func:`~jlonevae_lib.utils.errors.cli_errors`:

- :mod:`.train`: ``jlonevae-train`` (also ``python -m jlonevae_lib.train.train_jlonevae_models``);
- :mod:`.train_original`: the original's natural-image script,
  ``jlonevae_lib/train/train_jlonevae_without_disentanglement_lib.py``;
- :mod:`.evaluate`: ``jlonevae-evaluate`` (also ``python -m jlonevae_lib.evaluate.evaluation``);
- :mod:`.plot`: ``jlonevae-plot`` (also ``python -m jlonevae_lib.visualize.cli``);
- :mod:`.cache`, :mod:`.mpi3d`, :mod:`.natural_images`: ``python -m jlonevae_lib.data.<name>``,
  the data preparation steps;
- :mod:`.linear_baselines`: ``python -m jlonevae_lib.evaluate.linear_baselines``;
- :mod:`.study_summary`, :mod:`.seven_arms_summary`: also ``python -m
  jlonevae_lib.sweep.study_summary`` and ``python -m jlonevae_lib.sweep.seven_arms_summary``;
- :mod:`.demo_build`: ``python -m jlonevae_lib.demo_models.build``;
- :mod:`.types`: the parser with one-line errors and the checked argument types they share.

Each also runs as ``python -m jlonevae_lib.cli.<name>``, which is how the library launches one
(by name, in a subprocess: no module outside this package imports it; the layers contract in
pyproject.toml checks). The older ``python -m`` names (the documented commands, the reference's)
are library or compatibility modules that run these modules by name with ``runpy``. No module
outside this package parses flags; this package imports nothing at its own import, so a command
loads only what it needs.
"""
