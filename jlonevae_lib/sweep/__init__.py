"""Studies over many trained runs: running them, and what they found, in one place.

- :mod:`.studies`: the registry of the paper's studies as data (members, metrics, summary);
- :mod:`.members`: a study member, its run folder and its ``jlonevae-train`` flags;
- :mod:`.status`: a member's state, read from its run folder alone;
- :mod:`.runner`: the work left per member (skip, resume, retry) and doing it;
- :mod:`.local` and :mod:`.slurm`: the backends (a worker pool; submitit job arrays);
- :mod:`.study_summary`: the summary of a β-VAE vs JL1-VAE study (per-seed table, mean ± s.d.
  per arm, Welch t-tests per locality, machine, time and command) as Markdown and JSON; the
  last step of the study ``cpu_study``;
- :mod:`.seven_arms` and :mod:`.seven_arms_summary`: the paper's seven methods (and our β-VAE)
  at CPU scale, ``cpu_seven_arms``, and its summary (every arm against JL1-VAE, averages over
  evaluation seeds, the ordering against the paper's);
- :mod:`.natural_images_study`: natural images at CPU scale, ``natural_images_cpu``, with the
  linear baselines and the localisation of Jacobian columns.

``jlonevae-sweep`` (:mod:`jlonevae_lib.cli.sweep`) is their command line.
"""
