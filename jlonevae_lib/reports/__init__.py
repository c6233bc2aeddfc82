"""Study reports: a study's runs read into one table, its statistics, figures and generated
text, on shared pieces; each study's report declares what it shows.

- :mod:`.records`: the runs as :class:`~.records.RunRecord` rows (config.json, DONE / FAILED,
  the evaluation files through :mod:`jlonevae_lib.runs`), the value keys, the machine;
- :mod:`.text`: the generated text's formats and file names, each once;
- :mod:`.cpu_study`: β-VAE vs JL1-VAE over seeds (``cpu_study``);
- :mod:`.seven_arms` and :mod:`.seven_arms_text`: the paper's seven methods
  (``cpu_seven_arms``), its data and its prose;
- :mod:`.natural_images` and :mod:`.natural_images_text`: the natural-image study.

Statistics are :mod:`jlonevae_lib.evaluate.statistics`; measures that need a model are in
:mod:`jlonevae_lib.evaluate` (:mod:`~jlonevae_lib.evaluate.reconstruction`,
:mod:`~jlonevae_lib.evaluate.natural_image_measures`); figures in :mod:`jlonevae_lib.visualize`.
The command lines are in :mod:`jlonevae_lib.cli` (``study_summary``, ``seven_arms_summary``,
``natural_images_summary``); :mod:`jlonevae_lib.sweep` launches them by name.
"""
