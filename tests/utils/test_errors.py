"""User-facing error helpers."""

from jlonevae_lib.utils.errors import short_reason


def test_short_reason_keeps_the_first_line_and_cuts_long_text():
    assert short_reason(ValueError("bad header\nadvice\nmore advice")) == "ValueError: bad header"
    assert short_reason(RuntimeError()) == "RuntimeError"
    cut = short_reason(OSError("x" * 500), max_chars=40)
    assert len(cut) == 40 and cut.startswith("OSError: xxx") and cut.endswith("…")
