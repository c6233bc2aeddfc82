"""Checked argparse types: the value, or one readable error."""

import argparse

import pytest

from jlonevae_lib.cli.types import (
    ArgumentParser,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    seed_int,
)


def test_minus_zero_is_zero():
    """-0.0 would name another run folder (beta-0_0000) than 0.0, one no reader parses."""
    assert str(non_negative_float("-0")) == "0.0"


@pytest.mark.parametrize(("parse", "good", "bad"), [
    (positive_int, {"1": 1, "64": 64}, ["0", "-3", "1.5", "x"]),
    (non_negative_int, {"0": 0, "7": 7}, ["-1", "2.0", "seed"]),
    (non_negative_float, {"0": 0.0, "0.1": 0.1}, ["-0.5", "nan", "inf", "1e400", "x"]),
    (positive_float, {"0.001": 0.001, "2": 2.0}, ["0", "-0.1", "inf", "nan", "x"]),
    (seed_int, {"0": 0, "4294967295": 2**32 - 1}, ["-1", "4294967296", "1.0"]),
])
def test_checked_types(parse, good, bad):
    for text, value in good.items():
        assert parse(text) == value
    for text in bad:
        with pytest.raises(argparse.ArgumentTypeError, match="expected"):
            parse(text)


def _two_level_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="tool")
    parser.add_argument("--top", action="store_true")
    commands = parser.add_subparsers(dest="command", required=True)
    plot = commands.add_parser("plot")
    plot.add_argument("--dpi", type=positive_int, default=100)
    kinds = plot.add_subparsers(dest="kind", required=True)
    kinds.add_parser("violin").add_argument("--width", type=positive_float)
    commands.add_parser("list")
    return parser


@pytest.mark.parametrize(("argv", "prog"), [
    (["plot", "violin", "--bogus"], "tool plot violin"),
    (["plot", "--dpi", "3", "violin", "--width", "2", "x"], "tool plot violin"),
    (["list", "--dpi", "3"], "tool list"),
])
def test_unrecognized_argument_names_the_subcommand(argv, prog, capsys):
    """The subcommand's --help lists its options; the top parser's does not."""
    with pytest.raises(SystemExit) as exit_info:
        _two_level_parser().parse_args(argv)
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert error.startswith(f"{prog}: error: unrecognized arguments: ")
    assert error.rstrip().endswith(f"(see {prog} --help)")


def test_unrecognized_argument_without_subcommands(capsys):
    parser = ArgumentParser(prog="tool")
    parser.add_argument("--n", type=positive_int)
    assert parser.parse_args(["--n", "2"]).n == 2
    with pytest.raises(SystemExit):
        parser.parse_args(["--n", "2", "extra"])
    assert capsys.readouterr().err == ("tool: error: unrecognized arguments: extra "
                                       "(see tool --help)\n")
