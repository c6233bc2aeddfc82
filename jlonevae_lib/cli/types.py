"""What every command line shares: a parser with one-line errors and checked argument types."""

from __future__ import annotations

import argparse
from pathlib import Path

from jlonevae_lib.runs import layout
from jlonevae_lib.utils.errors import JLoneVAEError


class ArgumentParser(argparse.ArgumentParser):
    """argparse with a one-line error (the full usage text buries the message)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def positive_int(text: str) -> int:
    """argparse type: an integer > 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0 (a seed, say)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value}")
    return value


def non_negative_float(text: str) -> float:
    """argparse type: a number >= 0 (nan refused)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text}")
    return value


#: NumPy's seeds are 32-bit: an evaluation seed is an integer in [0, 2**32).
MAX_SEED = 2**32 - 1


def seed_int(text: str) -> int:
    """argparse type: a random seed, an integer from 0 to 2**32 - 1."""
    value = non_negative_int(text)
    if value > MAX_SEED:
        raise argparse.ArgumentTypeError(f"expected a seed from 0 to {MAX_SEED}, got {value}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0 (a learning rate, say)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text}")
    return value


def check_summary_source(source: Path, flag: str, output_dir: Path) -> None:
    """A study summary read from a folder that does not exist reports an empty study; refuse
    that over a summary already written in ``output_dir``, where it is most likely a
    misspelled path that would replace real results with nothing."""
    if not source.is_dir() and (output_dir / layout.SUMMARY_JSON).is_file():
        raise JLoneVAEError(f"{flag} {source} is not a folder, and {output_dir} already holds "
                            f"a summary, which an empty one would replace; check the path")

