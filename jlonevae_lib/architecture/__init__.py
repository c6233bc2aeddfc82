"""The model and its Jacobian.

:mod:`.vae` (``ConvVAE`` and the named presets), :mod:`.jacobian` (decoder Jacobian columns,
the JL1/L2 penalties and the sub-batch estimator), :mod:`.save_model` / :mod:`.load_model` (the
reference's saved-model folders, loaded safely), :mod:`.export` (TorchScript mean encoder) and
:mod:`.vae_jacobian` (the reference's function names, for the paper's notebooks).
"""
