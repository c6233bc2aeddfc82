"""``jlonevae-train`` under its old names (this file's path, ``python -m`` of this module);
the command line itself is :mod:`jlonevae_lib.cli.train`."""

from jlonevae_lib.cli.train import main

if __name__ == "__main__":
    raise SystemExit(main())
