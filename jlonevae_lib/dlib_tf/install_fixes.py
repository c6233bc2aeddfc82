"""Patch a fresh disentanglement_lib 1.5 / gin-config 0.4 install to run on TensorFlow 2.15.

Run by ``build_dlib_env.bash`` with the new environment's interpreter, as a plain script (the
standard library only)::

    .venv-dlib/bin/python jlonevae_lib/dlib_tf/install_fixes.py

disentanglement_lib 1.5 was written for TensorFlow 1.14: three of its modules import
``tensorflow.contrib``, which TensorFlow 2 removed, and gin-config 0.4 (the last release its
``gin.configurable(blacklist=...)`` calls work with) uses ``collections.Mapping`` and friends,
which Python 3.10 removed. Each fix replaces an exact text; a file already fixed is left alone
(running this twice changes nothing) and a file with neither text is an error, since it means
another version is installed than the one pinned.
"""

from __future__ import annotations

import re
import sys
import sysconfig
from pathlib import Path

_CONTRIB_TPU = "from tensorflow.contrib import tpu as contrib_tpu\n"
# TPUEstimator and its RunConfig live on in tf.compat.v1.estimator.tpu (TensorFlow ≤ 2.15).
_CONTRIB_TPU_FIX = "contrib_tpu = tf.estimator.tpu  # was tensorflow.contrib.tpu (TensorFlow 1)\n"

_CONTRIB_FRAMEWORK = "from tensorflow.contrib import framework as contrib_framework\n"
# The one function convolute_hub needs from tensorflow.contrib.framework, on tf.train.Saver.
_CONTRIB_FRAMEWORK_FIX = '''\
class _ContribFramework(object):
  """tensorflow.contrib.framework's assign_from_checkpoint_fn (TensorFlow 1), on a Saver."""

  @staticmethod
  def assign_from_checkpoint_fn(model_path, var_list, ignore_missing_vars=False,
                                reshape_variables=False):
    del ignore_missing_vars  # convolute_hub never asks for it
    saver = tf.train.Saver(var_list, reshape=reshape_variables)
    return lambda session: saver.restore(session, model_path)


contrib_framework = _ContribFramework()
'''

_GIN_ABC = re.compile(r"\bcollections\.(Mapping|Iterable|ValuesView|Sequence|Set)\b")


class FixError(RuntimeError):
    pass


def replace_once(path: Path, old: str, new: str) -> bool:
    """Replace the line ``old`` by ``new`` in ``path``; False if it was already replaced."""
    text = path.read_text(encoding="utf-8")
    if new in text:
        return False
    if text.count(old) != 1:
        raise FixError(f"{path}: expected one line {old.strip()!r}; is another version of "
                       "disentanglement_lib installed than 1.5?")
    path.write_text(text.replace(old, new), encoding="utf-8")
    return True


def fix_gin_abc(path: Path) -> bool:
    """``collections.Mapping`` → ``collections.abc.Mapping`` (and the other ABCs) in gin."""
    text = path.read_text(encoding="utf-8")
    fixed = _GIN_ABC.sub(r"collections.abc.\1", text)
    if "import collections.abc\n" not in fixed:
        fixed = fixed.replace("import collections\n",
                              "import collections\nimport collections.abc\n", 1)
    if fixed == text:
        return False
    path.write_text(fixed, encoding="utf-8")
    return True


def apply_fixes(site_packages: Path) -> list[str]:
    """Apply every fix under ``site_packages``; the files changed, relative to it."""
    dlib = site_packages / "disentanglement_lib"
    gin_config = site_packages / "gin" / "config.py"
    for needed in (dlib, gin_config):
        if not needed.exists():
            raise FixError(f"{needed} is missing: install disentanglement-lib==1.5 and "
                           "gin-config==0.4.0 first")
    changed = []
    for module in ("methods/unsupervised/train.py", "methods/unsupervised/vae.py"):
        if replace_once(dlib / module, _CONTRIB_TPU, _CONTRIB_TPU_FIX):
            changed.append(f"disentanglement_lib/{module}")
    if replace_once(dlib / "utils/convolute_hub.py", _CONTRIB_FRAMEWORK, _CONTRIB_FRAMEWORK_FIX):
        changed.append("disentanglement_lib/utils/convolute_hub.py")
    if fix_gin_abc(gin_config):
        changed.append("gin/config.py")
    return changed


if __name__ == "__main__":
    try:
        changed = apply_fixes(Path(sysconfig.get_paths()["purelib"]))
    except (FixError, OSError) as err:
        sys.exit(f"error: {err}")
    print("patched: " + ", ".join(changed) if changed else "already patched")
