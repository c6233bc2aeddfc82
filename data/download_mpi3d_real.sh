#!/usr/bin/env bash
# Download mpi3d_real (Gondal et al., "On the Transfer of Inductive Bias from Simulation to the
# Real World: a New Disentanglement Dataset", NeurIPS 2019; https://github.com/rr-learning/
# disentanglement_dataset, CC BY 4.0): 12.7 GB, into mpi3d_real/mpi3d_real.npz under the data
# folder ($DISENTANGLEMENT_LIB_DATA if set, else this script's folder), then convert it once into
# mpi3d_real/mpi3d_real_images.npy beside it (another 12.7 GB; the datasets memory-map it).
# The download goes to a .part file that an interrupted run resumes (curl -C -) and is renamed
# when complete. After the conversion the .npz may be deleted to free its 12.7 GB.
set -euo pipefail
url=https://storage.googleapis.com/disentanglement_dataset/Final_Dataset/mpi3d_real.npz
script_dir=$(cd "$(dirname "$0")" && pwd)
root=$(mkdir -p "${DISENTANGLEMENT_LIB_DATA:-$script_dir}" \
  && cd "${DISENTANGLEMENT_LIB_DATA:-$script_dir}" && pwd)  # absolute: we cd below
folder="$root/mpi3d_real"
target="$folder/mpi3d_real.npz"

if [ -f "$target" ] || [ -f "$folder/mpi3d_real_images.npy" ]; then
  echo "$folder already holds the data (delete it to download again)"
else
  mkdir -p "$folder"
  echo "Downloading $url (12.7 GB) to $target"
  curl --fail --location --retry 5 --continue-at - --output "$target.part" "$url"
  mv "$target.part" "$target"
fi

cd "$script_dir/.."
[ -d .venv/bin ] && PATH="$PWD/.venv/bin:$PATH"
python -m jlonevae_lib.data.mpi3d --data-root "$root"
