"""User-facing error helpers."""

import pytest

from jlonevae_lib.utils.errors import cli_errors, short_reason


def test_short_reason_keeps_the_first_line_and_cuts_long_text():
    assert short_reason(ValueError("bad header\nadvice\nmore advice")) == "ValueError: bad header"
    assert short_reason(RuntimeError()) == "RuntimeError"
    cut = short_reason(OSError("x" * 500), max_chars=40)
    assert len(cut) == 40 and cut.startswith("OSError: xxx") and cut.endswith("…")



def test_a_path_error_is_one_line_with_the_path(tmp_path, capsys):
    a_file = tmp_path / "results"
    a_file.write_text("not a folder")

    @cli_errors
    def main() -> int:
        (a_file / "figures").mkdir(parents=True)
        return 0

    with pytest.raises(SystemExit) as exited:
        main()
    err = capsys.readouterr().err
    assert exited.value.code == 2 and err.count("\n") == 1 and err.startswith("error: ")
    assert str(a_file) in err and "give another path" in err



def test_a_cli_shows_a_warning_as_one_line(monkeypatch):
    import warnings

    monkeypatch.setattr(warnings, "formatwarning", warnings.formatwarning)  # restored after

    @cli_errors
    def main() -> int:
        return 0

    assert main() == 0
    shown = warnings.formatwarning("training cache x.npz is truncated; rebuilding it",
                                   UserWarning, "/somewhere/cache.py", 247, "warnings.warn(...)")
    assert shown == "warning: training cache x.npz is truncated; rebuilding it\n"



def test_gins_call_lines_are_left_out_of_an_error(capsys):
    from jlonevae_lib.utils.errors import JLoneVAEError

    @cli_errors
    def main() -> int:
        raise JLoneVAEError("MPI3D data not found at data/mpi3d_real; download it first\n"
                            "  In call to configurable 'evaluation' (<function evaluate>)")

    with pytest.raises(SystemExit):
        main()
    assert capsys.readouterr().err == ("error: MPI3D data not found at data/mpi3d_real; "
                                       "download it first\n")
