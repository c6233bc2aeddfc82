"""The range of a random seed, the one rule for every tool that takes one."""

from __future__ import annotations

#: NumPy's seeds are 32-bit: a random seed is an integer in [0, 2**32).
MAX_SEED = 2**32 - 1
