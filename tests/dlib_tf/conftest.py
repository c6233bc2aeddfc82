"""disentanglement_lib's TensorFlow environment for the tests that need it.

The session builds ``.venv-dlib/`` with the project's own script the first time (about a minute
with a warm pip cache; a clean clone in CI builds it from nothing) and reuses it afterwards (the
script exits at once when its stamp matches). Where no Python 3.9-3.11 exists (the script's exit
status 3) the tests are skipped with its message, except in CI, where that is a failure.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO / "experimentScripts" / "train_baseline" / "build_dlib_env.bash"
NO_SUITABLE_PYTHON = 3


def dlib_env() -> dict[str, str]:
    """The environment of a TensorFlow subprocess: quiet TensorFlow, two threads."""
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "OMP_NUM_THREADS": "2",
            "PYTHONWARNINGS": "ignore"}


@pytest.fixture(scope="session")
def dlib_python() -> Path:
    """The interpreter of a ready ``.venv-dlib/``, built here if needed."""
    venv = REPO / ".venv-dlib"
    built = subprocess.run(["bash", str(BUILD_SCRIPT)], capture_output=True, text=True,
                           env={**os.environ, "DLIB_VENV": str(venv)}, timeout=1800)
    if built.returncode == NO_SUITABLE_PYTHON and not os.environ.get("CI"):
        pytest.skip(built.stderr.strip().splitlines()[-1])
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    return venv / "bin" / "python"


def run_dlib(python: Path, args: list[str], cwd: Path = REPO, timeout: float = 600
             ) -> subprocess.CompletedProcess:
    """Run ``python args`` in the TensorFlow environment; fail with its output if it fails."""
    done = subprocess.run([str(python), *args], cwd=cwd, capture_output=True, text=True,
                          env=dlib_env(), timeout=timeout)
    assert done.returncode == 0, (f"{args} exited {done.returncode}:\n"
                                  f"{done.stdout[-3000:]}\n{done.stderr[-5000:]}")
    return done


#: The study member the end-to-end tests train: FactorVAE (γ = 30, seed 0), the method whose
#: checkpoint has the most (a discriminator) and whose global step counts double.
TRAINED_MODEL_NUM = 400
#: Global steps: 20 FactorVAE iterations.
TRAINED_STEPS = 40


@pytest.fixture(scope="session")
def dlib_trained_model(dlib_python, tmp_path_factory) -> Path:
    """disentanglement_lib's model folder of study member 400 trained for a few dozen steps on
    procedural three-dots, and post-processed (its mean representation); shared by the tests
    that read TensorFlow models."""
    output_dir = tmp_path_factory.mktemp("dlib_models")
    run_dlib(dlib_python, ["-m", "jlonevae_lib.dlib_tf.train", "--model-num",
                           str(TRAINED_MODEL_NUM), "--steps", str(TRAINED_STEPS), "--dataset",
                           "threeDots", "--output-dir", str(output_dir), "--eval-steps", "1"])
    model_dir = (output_dir / "trainedStandardModels" / f"model{TRAINED_MODEL_NUM}_on3dots"
                 / "tf")
    run_dlib(dlib_python, ["-m", "jlonevae_lib.dlib_tf.postprocess", str(model_dir)])
    return model_dir
