"""What every command line shares: a parser with one-line errors and checked argument types."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from jlonevae_lib.runs import layout
from jlonevae_lib.utils.errors import JLoneVAEError
from jlonevae_lib.utils.seeds import MAX_SEED

T = TypeVar("T", int, float)


class ArgumentParser(argparse.ArgumentParser):
    """argparse with a one-line error (the full usage text buries the message)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")

    def parse_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                   namespace: argparse.Namespace | None = None) -> argparse.Namespace:
        """argparse's, except that an unrecognized argument is reported by the subcommand
        given (argparse reports it from the top parser, whose ``--help`` does not list the
        subcommand's options)."""
        parsed, extra = self.parse_known_args(args, namespace)
        if extra:
            self.chosen_parser(parsed).error(f"unrecognized arguments: {' '.join(extra)}")
        return parsed

    def chosen_parser(self, parsed: argparse.Namespace) -> argparse.ArgumentParser:
        """The (sub)parser that read the last subcommand named in ``parsed``; this one
        without subcommands. Each level of subcommands needs a ``dest`` of its own."""
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                chosen = action.choices.get(getattr(parsed, action.dest, None) or "")
                if chosen is not None:
                    return (chosen.chosen_parser(parsed) if isinstance(chosen, ArgumentParser)
                            else chosen)
        return self


def _checked(text: str, convert: Callable[[str], T], accept: Callable[[T], bool],
             wanted: str) -> T:
    """``convert(text)`` if it converts and ``accept`` takes it, else argparse's error
    "expected <wanted>, got <text>"."""
    try:
        value = convert(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}") from None
    if not accept(value):
        raise argparse.ArgumentTypeError(f"expected {wanted}, got {text}")
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer > 0."""
    return _checked(text, int, lambda value: value > 0, "a positive integer")


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0 (a seed, say)."""
    return _checked(text, int, lambda value: value >= 0, "an integer >= 0")


def seed_int(text: str) -> int:
    """argparse type: a random seed, an integer from 0 to 2**32 - 1."""
    return _checked(text, int, lambda value: 0 <= value <= MAX_SEED,
                    f"a seed from 0 to {MAX_SEED}")


def non_negative_float(text: str) -> float:
    """argparse type: a finite number >= 0 (nan and inf refused; -0 is 0)."""
    return _checked(text, float, lambda value: 0 <= value < float("inf"),
                    "a finite number >= 0") + 0.0


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0 (a learning rate, say)."""
    return _checked(text, float, lambda value: 0 < value < float("inf"), "a finite number > 0")


def check_summary_source(source: Path, flag: str, output_dir: Path) -> None:
    """A study summary read from a folder that does not exist reports an empty study; refuse
    that over a summary already written in ``output_dir``, where it is most likely a
    misspelled path that would replace real results with nothing."""
    if not source.is_dir() and (output_dir / layout.SUMMARY_JSON).is_file():
        raise JLoneVAEError(f"{flag} {source} is not a folder, and {output_dir} already holds "
                            f"a summary, which an empty one would replace; check the path")

