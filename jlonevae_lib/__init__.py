"""JL1-VAE: local disentanglement in VAEs through an L1 penalty on the decoder Jacobian."""

__version__ = "0.1.0"
