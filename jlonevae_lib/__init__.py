"""JL1-VAE: local disentanglement in VAEs through an L1 penalty on the decoder Jacobian.

``from jlonevae_lib import jacobian_penalty`` gives the penalty for a model of one's own
(docs/penalty.md). It is imported on first use (PEP 562), not with the package: the package's
torch-free parts (the TensorFlow program in ``dlib_tf/``, the command lines' argument checks)
must not load torch.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

#: The penalty's public functions (:mod:`jlonevae_lib.architecture.jacobian`).
_JACOBIAN_EXPORTS = ("jacobian_penalty", "jacobian_penalty_backward")

__all__ = ["__version__", *_JACOBIAN_EXPORTS]


def __getattr__(name: str) -> Any:
    if name not in _JACOBIAN_EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from jlonevae_lib.architecture import jacobian

    return getattr(jacobian, name)
