"""Checked argparse types: the value, or one readable error."""

import argparse

import pytest

from jlonevae_lib.cli.types import (
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
