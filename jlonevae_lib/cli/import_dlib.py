"""``jlonevae-import-dlib MODEL_DIR...``: disentanglement_lib models (TensorFlow) as our runs.

Each MODEL_DIR is a folder that disentanglement_lib's training wrote (``tf_checkpoint/``,
``tfhub/``, ``results/``). Its variables are read by disentanglement_lib's own environment
(``.venv-dlib``, which has TensorFlow; built by
``experimentScripts/train_baseline/build_dlib_env.bash``) and written as an ordinary run,
``<output_dir>/trainedStandardModels/<experiment>/tf_model<N>/`` (docs/dlib_tensorflow.md), which
``jlonevae-evaluate``, the figures and the Jacobian columns read without TensorFlow.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from jlonevae_lib.cli.types import ArgumentParser
from jlonevae_lib.train.dlib_import import import_dlib_model
from jlonevae_lib.utils.dlib_env import default_dlib_python
from jlonevae_lib.utils.errors import DataFileError, JLoneVAEError, cli_errors

BUILD_SCRIPT = "experimentScripts/train_baseline/build_dlib_env.bash"


def check_dlib_python(python: Path) -> None:
    if not python.exists():
        raise JLoneVAEError(
            f"disentanglement_lib's TensorFlow environment is missing (no {python}): build it "
            f"with 'bash {BUILD_SCRIPT}' (or pass --dlib-python / set DLIB_VENV)")


def read_dlib_model(python: Path, model_dir: Path) -> tuple[dict[str, np.ndarray], dict]:
    """(weights, info) of a disentanglement_lib model folder, read in its environment."""
    with tempfile.TemporaryDirectory(prefix="jlonevae-import-") as tmp:
        weights_path, info_path = Path(tmp) / "weights.npz", Path(tmp) / "info.json"
        done = subprocess.run(
            [str(python), "-m", "jlonevae_lib.dlib_tf.variables", str(model_dir),
             "--output", str(weights_path), "--info", str(info_path)],
            capture_output=True, text=True,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONWARNINGS": "ignore"})
        if done.returncode != 0:
            lines = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
            if lines:
                raise DataFileError(lines[-1].removeprefix("error: "))
            last = next(iter(done.stderr.strip().splitlines()[-1:]), "no message")
            raise JLoneVAEError(f"reading {model_dir} in {python} failed (exit "
                                f"{done.returncode}): {last}")
        with np.load(weights_path, allow_pickle=False) as arrays:
            weights = {name: arrays[name] for name in arrays.files}
        return weights, json.loads(info_path.read_text())


@cli_errors
def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(
        prog="jlonevae-import-dlib",
        description="Import disentanglement_lib model folders (TensorFlow) as runs under "
                    "<output-dir>/trainedStandardModels/.")
    parser.add_argument("model_dirs", nargs="+", type=Path, metavar="MODEL_DIR",
                        help="folders written by disentanglement_lib's training")
    parser.add_argument("--output-dir", type=Path, default=Path("."),
                        help="where trainedStandardModels/ is (default: here)")
    parser.add_argument("--dlib-python", type=Path, default=None,
                        help="the TensorFlow environment's interpreter (default: "
                             "$DLIB_VENV/bin/python, else .venv-dlib/bin/python)")
    parser.add_argument("--overwrite", action="store_true",
                        help="re-import models already imported (the old import's finished "
                             "marker, weights and results are removed first)")
    args = parser.parse_args(argv)
    python = args.dlib_python or default_dlib_python(os.environ)
    check_dlib_python(python)
    for model_dir in args.model_dirs:
        if not model_dir.is_dir():
            raise JLoneVAEError(f"{model_dir} is not a folder; give disentanglement_lib model "
                                "folders (the ones holding tf_checkpoint/ and tfhub/)")
        weights, info = read_dlib_model(python, model_dir)
        result = import_dlib_model(weights, info, args.output_dir, overwrite=args.overwrite)
        what = "already imported" if result.skipped else "imported"
        print(f"{model_dir} -> {result.run_dir} ({what}, {result.num_batches} VAE updates)",
              file=sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
