"""Studies over many trained runs: what they found, in one place.

- :mod:`.study_summary`: the summary of a β-VAE vs JL1-VAE study (per-seed table, mean ± s.d.
  per arm, Welch t-tests per locality, machine, time and command) as Markdown and JSON; the
  last step of ``experimentScripts/reproduce/cpu_study.bash``.
"""
