"""``jlonevae-plot`` under its old module name (``python -m jlonevae_lib.visualize.cli``); the
command line itself is :mod:`jlonevae_lib.cli.plot`."""

from jlonevae_lib.cli.plot import main

if __name__ == "__main__":
    raise SystemExit(main())
