"""The original's natural-image training script under its name (this file's path, ``python -m``
of this module); the command line itself is :mod:`jlonevae_lib.cli.train_original`."""

from jlonevae_lib.cli.train_original import main

if __name__ == "__main__":
    raise SystemExit(main())
