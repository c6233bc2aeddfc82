#!/usr/bin/env bash
# Download the natural images of Olshausen & Field (Nature 381, 607-609, 1996): IMAGES.mat, ten
# whitened 512x512 images, from Bruno Olshausen's sparsenet page, into naturalImages/IMAGES.mat
# under the data folder ($DISENTANGLEMENT_LIB_DATA if set, else this script's folder).
# A file already there is kept; a partial download never takes its name.
# Next: ./sampleNatualImagePatches.py (samples the 16x16 training and test patches).
set -euo pipefail
url=http://www.rctn.org/bruno/sparsenet/IMAGES.mat
folder="${DISENTANGLEMENT_LIB_DATA:-$(dirname "$0")}/naturalImages"
target="$folder/IMAGES.mat"

if [ -f "$target" ]; then
  echo "$target already exists (delete it to download again)"
  exit 0
fi
mkdir -p "$folder"
tmp=$(mktemp "$folder/.IMAGES.mat.XXXXXX")
trap 'rm -f "$tmp"' EXIT
if command -v curl >/dev/null; then
  curl --fail --location --retry 3 --output "$tmp" "$url"
else
  wget --tries=3 --output-document="$tmp" "$url"
fi
mv "$tmp" "$target"
echo "downloaded $target"
