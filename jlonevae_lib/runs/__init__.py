"""Run folders on disk: where everything of a run lives, and what its results say.

This package sits below training, evaluation and the figures, which all read or write run
folders; it imports only :mod:`jlonevae_lib.utils` and the standard library.

- :mod:`.layout`: every path and marker of a run folder (``config.json``, checkpoints, the saved
  models, ``DONE``/``FAILED``, the metrics' result files) and the saved-model finder.
- :mod:`.metric_table`: each metric declared once: its name (results folder and gin file), the
  score it reports, its locality, its result keys and its label; plug-ins register their
  scores there.
- :mod:`.results`: the results reader: one record per metric result of a run, the run described
  by its ``config.json`` (by its folder name only when it has none, as the reference's runs).
"""
