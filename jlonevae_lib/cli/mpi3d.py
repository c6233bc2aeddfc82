"""``python -m jlonevae_lib.data.mpi3d [--data-root DIR]``: convert the MPI3D archive once, or
validate the converted file (:mod:`jlonevae_lib.data.mpi3d_conversion`)."""

from __future__ import annotations

from pathlib import Path

from jlonevae_lib.cli.types import ArgumentParser
from jlonevae_lib.data.ground_truth import data_root as default_data_root
from jlonevae_lib.data.mpi3d_conversion import (
    CONVERTED_NAME,
    FOLDER_NAME,
    SOURCE_NAME,
    Mpi3dPaths,
    load_mpi3d_images,
)
from jlonevae_lib.utils.errors import cli_errors


@cli_errors
def main(argv: list[str] | None = None) -> int:
    """Convert (once) or check ``<data root>/mpi3d_real/mpi3d_real_images.npy``."""
    parser = ArgumentParser(
        prog="python -m jlonevae_lib.data.mpi3d",
        description=f"Convert <data root>/{FOLDER_NAME}/{SOURCE_NAME} once into "
                    f"{CONVERTED_NAME} beside it (for memory-mapped reading), or check the "
                    f"converted file if it exists.")
    parser.add_argument("--data-root", type=Path, default=None,
                        help="data folder (default: $DISENTANGLEMENT_LIB_DATA, else ./data)")
    args = parser.parse_args(argv)
    root = default_data_root(args.data_root)
    images = load_mpi3d_images(root)
    print(f"{Mpi3dPaths(root).images}: {len(images)} images of {images.shape[1:]}, valid; "
          f"the datasets mpi3d_real and mpi3dMulti read it")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
