"""The model and its Jacobian.

:mod:`.vae` (``ConvVAE`` and the named presets), :mod:`.dlib_conv` (disentanglement_lib's
architecture and its TensorFlow variables), :mod:`.jacobian` (decoder Jacobian columns, the
JL1/L2 penalties and the sub-batch estimator), :mod:`.save_model` / :mod:`.load_model`
(saved-model folders, loaded safely), :mod:`.export` (TorchScript mean encoder) and
:mod:`.vae_jacobian` (the reference's function names, for the paper's notebooks).

The penalty's public API is exported here, for a model of one's own (docs/penalty.md)::

    from jlonevae_lib.architecture import jacobian_penalty
"""

from jlonevae_lib.architecture.jacobian import jacobian_penalty, jacobian_penalty_backward

__all__ = ["jacobian_penalty", "jacobian_penalty_backward"]
