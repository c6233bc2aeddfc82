"""TensorFlow's log during disentanglement_lib's steps, reduced to what a user reads.

disentanglement_lib calls TensorFlow 1 APIs (``tf.layers``, ``tf.estimator``), and TensorFlow
2.15 notes each as deprecated: about a hundred lines per run that say nothing about the run. Its
TPU estimator also logs the steps per second after every step at INFO level.
"""

from __future__ import annotations

import logging
import warnings

import tensorflow.compat.v1 as tf


class _Reduced(logging.Filter):
    """Warnings and errors, but no deprecation notices; with ``progress``, of the INFO lines the
    losses (every 100 iterations) and the checkpoint saves only."""

    def __init__(self, progress: bool) -> None:
        super().__init__()
        self.progress = progress

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.levelno >= logging.WARNING:
            return "deprecat" not in message and "Instructions for updating" not in message
        return self.progress and ("loss = " in message
                                  or message.startswith("Saving checkpoints for"))


def quiet_tensorflow_logging(progress: bool) -> None:
    """Reduce TensorFlow's Python log as :class:`_Reduced` says (each line printed once), and
    silence the ``UserWarning`` that each ``tf.layers`` call in disentanglement_lib raises."""
    logger = tf.get_logger()
    logger.setLevel(logging.INFO if progress else logging.WARNING)
    logger.propagate = False  # absl's root handler would print every line a second time
    for old in [f for f in logger.filters if isinstance(f, _Reduced)]:
        logger.removeFilter(old)
    logger.addFilter(_Reduced(progress))
    warnings.filterwarnings("ignore", category=UserWarning, module="disentanglement_lib")
