"""Studies over many trained runs: running them, and what they found, in one place.

- :mod:`.studies`: the registry of the paper's studies as data (members, metrics, summary);
- :mod:`.members`: a study member, its run folder and its ``jlonevae-train`` flags;
- :mod:`.status`: a member's state, read from its run folder alone;
- :mod:`.runner`: the work left per member (skip, resume, retry) and doing it;
- :mod:`.local` and :mod:`.slurm`: the backends (a worker pool; submitit job arrays);
- :mod:`.seven_arms`: the paper's seven methods (and our β-VAE) at CPU scale,
  ``cpu_seven_arms``;
- :mod:`.natural_images_study`: natural images at CPU scale, ``natural_images_cpu``, with the
  linear baselines and the localisation of Jacobian columns.

The studies' reports are :mod:`jlonevae_lib.reports` (a study's summary commands launch their
command lines by name); ``python -m jlonevae_lib.sweep.study_summary`` and
``python -m jlonevae_lib.sweep.seven_arms_summary`` still run them.

``jlonevae-sweep`` (:mod:`jlonevae_lib.cli.sweep`) is their command line.
"""
