"""Display conventions shared by the model figures and the CLI (no torch import here, so
``jlonevae-plot`` can show its options and draw result plots without loading torch)."""

from __future__ import annotations

#: Jacobian column contrast of the reference: gray = J·20 + 255/2 on 0..255, i.e. 20/255 on
#: [0, 1] (see :mod:`jlonevae_lib.visualize.jacobian_columns`).
REFERENCE_SCALE = 20 / 255

#: What σ means in a latent traversal μ ± t·σ (see :mod:`jlonevae_lib.visualize.traversals`).
SIGMA_SOURCES = ("posterior", "prior")
