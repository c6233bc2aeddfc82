#!/usr/bin/env bash
# Build the PyTorch peer's environment, .venv-peer/, for benchmarks/bench_baselines.py --peer:
# disent 0.8.0 (Nathan Michlo's PyTorch disentanglement framework) and what its β-VAE framework
# imports, on the same torch as .venv (the pin of pyproject.toml, the CPU build where there is no
# nvidia-smi), so that the two steps run on the same torch, oneDNN and MKL.
# benchmarks/peer_step_time.py runs in it; jlonevae is not installed there.
#
# Pins (checked together on torch 2.13.0+cpu, Python 3.11, x86-64 Linux, 2026-12-05):
#   torch        pyproject.toml's pin, read from it as the Makefile does
#   torchvision  the release paired with that torch (0.(minor + 15).patch: 2.13.0 -> 0.28.0);
#                disent.frameworks imports torchvision.transforms through disent.dataset
#   disent 0.8.0, lightning 2.6.6 (disent's frameworks are LightningModules), numpy < 3,
#   Pillow, and disent's other declared requirements as disent 0.8.0 lists them.
# torch and torchvision go in first, without dependencies, from TORCH_INDEX (as the Makefile:
# PyTorch's CPU index when nvidia-smi is absent; TORCH_INDEX= keeps PyPI's build).
#
# Idempotent: an environment built from the same pins is left alone (a stamp records them).
# Environment: PEER_VENV (default .venv-peer), PEER_PYTHON (the interpreter to build it with;
# default: .venv's base interpreter, so both run the same Python, else python3), TORCH_INDEX.
# On failure: one line "error: ..." on stderr (after pip's own message) and exit status 3.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
venv=${PEER_VENV:-$repo/.venv-peer}

fail() { echo "error: $*" >&2; exit 3; }

torch_pin=$(grep -o '"torch==[^"]*"' "$repo/pyproject.toml" | tr -d '"') ||
  fail "no torch pin (\"torch==X.Y.Z\") in $repo/pyproject.toml"
torch_version=${torch_pin#torch==}
IFS=. read -r t_major t_minor t_patch <<<"$torch_version"
[ "$t_major" = 2 ] || fail "torch $torch_version: the torchvision pairing here assumes torch 2.x"
torchvision_pin="torchvision==0.$((t_minor + 15)).${t_patch:-0}"
if [ -z "${TORCH_INDEX+set}" ]; then
  if command -v nvidia-smi >/dev/null 2>&1; then TORCH_INDEX=; else
    TORCH_INDEX=https://download.pytorch.org/whl/cpu; fi
fi
pins=(
  "disent==0.8.0" "lightning==2.6.6" "numpy<3" "Pillow"
  # disent 0.8.0's other declared requirements (its modules import some of them at top level)
  "scipy>=1.7" "scikit-learn>=1.0" "h5py>=2.10" "requests" "tqdm>=4.60"
)
stamp_text=$(printf '%s\n' "$torch_pin" "$torchvision_pin" "index=$TORCH_INDEX" "${pins[@]}")
stamp=$venv/.installed

# The stamp: the pins, then one line on torchvision (its pin, or "torchvision=absent").
if [ -f "$stamp" ] && [ "$(head -n -1 "$stamp")" = "$stamp_text" ] && [ -x "$venv/bin/python" ]; then
  echo "$venv is up to date"
  exit 0
fi

if [ -n "${PEER_PYTHON:-}" ]; then
  python=$PEER_PYTHON
elif [ -x "$repo/.venv/bin/python" ]; then
  python=$("$repo/.venv/bin/python" -c 'import sys; print(sys._base_executable)')
else
  python=$(command -v python3) || fail "no python3 on PATH (set PEER_PYTHON)"
fi
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null ||
  fail "$python is not a Python >= 3.10 interpreter (set PEER_PYTHON to one)"

echo "building $venv with $python ($("$python" --version 2>&1)), $torch_pin" \
     "${TORCH_INDEX:+from $TORCH_INDEX}"
start=$SECONDS
rm -f "$stamp"
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv" || fail "could not create $venv"
pip=("$venv/bin/python" -m pip --disable-pip-version-check)
"${pip[@]}" install -q --no-deps "$torch_pin" "$torchvision_pin" \
  ${TORCH_INDEX:+--extra-index-url "$TORCH_INDEX"} ||
  fail "pip could not install $torch_pin and $torchvision_pin${TORCH_INDEX:+ (index $TORCH_INDEX)}; see pip's message above"
"${pip[@]}" install -q "$torch_pin" "$torchvision_pin" "${pins[@]}" ||
  fail "pip could not install disent's stack (${pins[*]}); see pip's message above"
# torch must be .venv's very build (the comparison's point: same torch, oneDNN and MKL).
if [ -x "$repo/.venv/bin/python" ]; then
  ours=$("$repo/.venv/bin/python" -c 'import torch; print(torch.__version__)')
  theirs=$("$venv/bin/python" -c 'import torch; print(torch.__version__)')
  [ "$ours" = "$theirs" ] ||
    fail "the peer environment got torch $theirs, .venv has $ours (set TORCH_INDEX to the index .venv's build came from)"
fi
# torchvision is only imported by disent's dataset transforms, which the β-VAE step never
# runs. Where PyTorch's index is unreachable, pip falls back to PyPI's torchvision, a CUDA
# build whose operators fail to load on the CPU torch and which then fails at import: it is
# removed, and benchmarks/peer_step_time.py stands an inert module in for it (and says so).
torchvision_state=$torchvision_pin
if ! "$venv/bin/python" -c 'import torchvision' >/dev/null 2>&1; then
  echo "note: $torchvision_pin does not import on this torch (PyPI's CUDA build?): removed;" \
       "peer_step_time.py stands in for it" >&2
  "${pip[@]}" uninstall -q -y torchvision
  torchvision_state="torchvision=absent"
fi
# The check that the pieces fit: disent's β-VAE and its Conv64 networks and disentanglement_lib's network import.
"$venv/bin/python" "$repo/benchmarks/peer_step_time.py" --check ||
  fail "the peer environment does not import disent's β-VAE (see above)"
printf '%s\n' "$stamp_text" "$torchvision_state" > "$stamp.tmp" && mv "$stamp.tmp" "$stamp"
echo "built $venv in $((SECONDS - start)) s ($(du -sh "$venv" | cut -f1))"
