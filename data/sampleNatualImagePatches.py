#!/usr/bin/env python3
"""Sample the 16x16 natural-image patches from naturalImages/IMAGES.mat, or without it from an
offline fallback labelled as such (the reference's script name, typo kept). Same flags as
``python -m jlonevae_lib.data.natural_images --help``; the data folder defaults to
$DISENTANGLEMENT_LIB_DATA if set, else this script's folder, so it works from anywhere. Run it
with the project's Python (an activated .venv, or .venv/bin/python)."""

import os
import sys
from pathlib import Path

try:
    from jlonevae_lib.cli.natural_images import main
except ModuleNotFoundError as err:
    if err.name != "jlonevae_lib":
        raise
    sys.exit(f"error: {sys.executable} cannot import jlonevae_lib; activate the project's "
             "environment (source .venv/bin/activate) or run it with .venv/bin/python")

if __name__ == "__main__":
    # An explicit --data-root among the arguments comes later and wins.
    folder = os.environ.get("DISENTANGLEMENT_LIB_DATA") or str(Path(__file__).resolve().parent)
    sys.exit(main(["--data-root", folder, *sys.argv[1:]]))
