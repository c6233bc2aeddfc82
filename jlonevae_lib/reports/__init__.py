"""Study reports: a study's runs read into one table, its statistics, figures and generated
text, on shared pieces; each study's report declares what it shows.

- :mod:`.records`: the runs as :class:`~.records.RunRecord` rows (config.json, DONE / FAILED,
  the evaluation files through :mod:`jlonevae_lib.runs`), the value keys, the machine;
- :mod:`.text`: the generated text's formats and file names, each once;
- :mod:`.cpu_study`: β-VAE vs JL1-VAE over seeds (``cpu_study``);
- the paper's seven methods (``cpu_seven_arms``), one module per concern:
  :mod:`.seven_arms_records` (reading the runs, their reconstructions measured by
  :mod:`jlonevae_lib.evaluate.reconstruction`, summary.json read back),
  :mod:`.seven_arms_comparisons` (the statistics), :mod:`.seven_arms` (the declaration and the
  summary's assembly), :mod:`.seven_arms_findings` (the sentences) and
  :mod:`.seven_arms_text` (summary.md, README.md);
- :mod:`.natural_images` and :mod:`.natural_images_text`: the natural-image study.

Every study's summary.md, summary.json and README.md (where generated) can be written again
from its summary.json alone (each command's ``--from-summary``), byte for byte; the committed
results are checked so (tests/reports/test_committed_results.py). results/cpu_study/README.md
is written by hand.

Statistics are :mod:`jlonevae_lib.evaluate.statistics`; measures that need a model are in
:mod:`jlonevae_lib.evaluate` (:mod:`~jlonevae_lib.evaluate.reconstruction`,
:mod:`~jlonevae_lib.evaluate.natural_image_measures`); figures in :mod:`jlonevae_lib.visualize`.
The command lines are in :mod:`jlonevae_lib.cli` (``study_summary``, ``seven_arms_summary``,
``natural_images_summary``); :mod:`jlonevae_lib.sweep` launches them by name.
"""
