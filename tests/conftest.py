"""Markers given by where a test lives or what it needs (pyproject.toml lists them).

``tensorflow``: every test under ``tests/dlib_tf/`` and any test that uses the ``dlib_python``
fixture, i.e. that needs ``.venv-dlib/`` (TensorFlow, ~2.1 GB, built on first use).
``make test-fast`` leaves them out (``-m "not slow and not tensorflow"``); ``make test`` runs
them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

DLIB_TF_TESTS = Path(__file__).resolve().parent / "dlib_tf"


def needs_tensorflow(item: pytest.Item) -> bool:
    """Whether ``item`` runs in, or builds, the TensorFlow environment."""
    return (DLIB_TF_TESTS in Path(item.path).resolve().parents
            or "dlib_python" in getattr(item, "fixturenames", ()))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if needs_tensorflow(item):
            item.add_marker(pytest.mark.tensorflow)
