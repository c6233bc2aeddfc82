"""Where disentanglement_lib's TensorFlow environment is looked for."""

from __future__ import annotations

from pathlib import Path

from jlonevae_lib.utils.dlib_env import default_dlib_python


def test_dlib_venv_names_the_environment_else_the_working_folders(tmp_path, monkeypatch):
    assert default_dlib_python({"DLIB_VENV": "/opt/tf"}) == Path("/opt/tf/bin/python")
    monkeypatch.chdir(tmp_path)
    python = tmp_path / ".venv-dlib" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text("")
    assert default_dlib_python({}) == python
    assert default_dlib_python({"DLIB_VENV": ""}) == python
