#!/usr/bin/env bash
# Build disentanglement_lib's own environment, .venv-dlib/, for the TensorFlow path only
# (training the baselines with disentanglement_lib itself, importing its models, the oracle
# tests). Everything else runs in .venv and never needs TensorFlow. docs/dlib_tensorflow.md.
#
# disentanglement_lib 1.5 needs tf.estimator, whose last release is TensorFlow 2.15.1 (wheels for
# Python 3.9-3.11), with numpy < 2 and gin-config 0.4; it is installed without its declared
# dependencies (they ask for TensorFlow 1.14) and patched for TensorFlow 2 (install_fixes.py).
# This repository goes on the environment's path (a .pth file) for jlonevae_lib.dlib_tf.
#
# Idempotent: an environment built from the same pins is left alone (a stamp records them).
# Environment: DLIB_VENV (default .venv-dlib), DLIB_PYTHON (the interpreter to build it with;
# default: the first of python3.11, python3.10, python3.9, python3 that TensorFlow 2.15 supports).
# Exit status 3: no suitable Python here (the message says what to install).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
venv=${DLIB_VENV:-$repo/.venv-dlib}

pins=(
  "tensorflow==2.15.1" "numpy<2" "gin-config==0.4.0" "tensorflow-hub==0.15.0"
  "tensorflow-probability==0.23.0"
  # disentanglement_lib finds its bundled gin files through pkg_resources (gone in setuptools 81).
  "setuptools<81"
  # What its training, post-processing and evaluation modules import.
  "simplejson==3.19.3" "scipy<1.14" "scikit-learn<1.6" "Pillow<11" "matplotlib<3.10"
  "pandas<2.3" "imageio<2.37" "seaborn==0.13.2" "six" "absl-py"
)
dlib_pin="disentanglement-lib==1.5"
stamp_text=$(printf '%s\n' "${pins[@]}" "$dlib_pin" "repo=$repo"; cat "$repo/jlonevae_lib/dlib_tf/install_fixes.py")
stamp=$venv/.installed

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$stamp_text" ] && [ -x "$venv/bin/python" ]; then
  echo "$venv is up to date"
  exit 0
fi

supported() {  # is $1 a Python that TensorFlow 2.15.1 has wheels for?
  "$1" -c 'import sys; sys.exit(not ((3, 9) <= sys.version_info[:2] <= (3, 11)))' 2>/dev/null
}
if [ -n "${DLIB_PYTHON:-}" ]; then
  python=$DLIB_PYTHON
  if ! supported "$python"; then
    echo "error: DLIB_PYTHON=$python is not Python 3.9-3.11, the versions TensorFlow 2.15.1" \
         "(which disentanglement_lib needs) has wheels for; point it at a python3.11" >&2
    exit 3
  fi
else
  python=
  for candidate in python3.11 python3.10 python3.9 python3; do
    if command -v "$candidate" >/dev/null && supported "$candidate"; then
      python=$(command -v "$candidate"); break
    fi
  done
  if [ -z "$python" ]; then
    echo "error: disentanglement_lib needs TensorFlow 2.15.1, which has wheels for Python" \
         "3.9-3.11 only, and none is installed here; install python3.11 (e.g. 'uv python" \
         "install 3.11' or your package manager) and run again, with DLIB_PYTHON=/path/to/python3.11" \
         "if it is not on PATH" >&2
    exit 3
  fi
fi

echo "building $venv with $python ($("$python" --version 2>&1))"
rm -f "$stamp"
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
pip=("$venv/bin/python" -m pip --disable-pip-version-check)
"${pip[@]}" install -q --upgrade "pip<25"
if ! "${pip[@]}" install -q "${pins[@]}"; then
  echo "error: pip could not install the pinned TensorFlow 2.15.1 stack for" \
       "$("$venv/bin/python" --version 2>&1) on $(uname -m); see pip's message above" \
       "(TensorFlow 2.15.1 has wheels for Python 3.9-3.11 on x86-64 and arm64 Linux)" >&2
  exit 3
fi
"${pip[@]}" install -q --no-deps "$dlib_pin"
"$venv/bin/python" "$repo/jlonevae_lib/dlib_tf/install_fixes.py"
site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "$repo" > "$site/jlonevae_repo.pth"
# A check that the pieces fit: disentanglement_lib's training module imports on TensorFlow 2.
TF_CPP_MIN_LOG_LEVEL=3 "$venv/bin/python" -c \
  'import disentanglement_lib.methods.unsupervised.train, jlonevae_lib.dlib_tf'
printf '%s\n' "$stamp_text" > "$stamp.tmp" && mv "$stamp.tmp" "$stamp"
echo "built $venv ($(du -sh "$venv" | cut -f1))"
