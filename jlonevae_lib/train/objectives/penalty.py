"""The Jacobian penalty as a term of any objective's loss (docs/method.md, "The Jacobian penalty").

γ_t × the penalty of the decoder's images (``model.decode``, the sigmoid of the logits) at the
sampled latent, detached from the encoder, as ``TrainConfig`` sets it: ``gamma`` (γ, ramped
over ``annealing_batches``), ``regularization_type``, ``jacobian_method`` and
``jacobian_batch``. JL1-VAE (:mod:`.jacobian_vae`) and every disentanglement_lib baseline
(:mod:`.dlib_vae`) take it from here, so the penalty is the same computation in all of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from jlonevae_lib.architecture.jacobian import jacobian_penalty_backward

if TYPE_CHECKING:
    from jlonevae_lib.train.config import TrainConfig

#: Latents per chunk of the penalty's backward on the CPU, by Jacobian method (see
#: :func:`penalty_chunk_size`).
CPU_PENALTY_CHUNK_LATENTS = {"fd": 8, "exact": 32}


def penalty_chunk_size(device: torch.device, method: str) -> int | None:
    """Latents per chunk of the Jacobian penalty's backward (None: all at once).

    On the CPU, chunks keep the penalty's activations small (FD: (d+1)·8 decoded images at a
    time) at no cost in speed; the exact method (vmap'ed JVPs) slows down with small chunks, so
    it gets larger ones. On CUDA one big batch keeps the device busy. Measurements:
    benchmarks/README.md.
    """
    if device.type != "cpu":
        return None
    return CPU_PENALTY_CHUNK_LATENTS.get(method)


def backpropagate_penalty(model: nn.Module, z: torch.Tensor, gamma: float,
                          config: TrainConfig, generator: torch.Generator,
                          chunk_size: int | None) -> torch.Tensor:
    """Add γ × the gradient of the decoder's Jacobian penalty at ``z`` (B, d) to the decoder's
    ``.grad`` now, and return the penalty's value, a detached scalar for the loss to carry
    (its value only: the gradient is already in place).

    ``gamma``: this step's γ_t. At γ_t = 0 nothing is computed and nothing drawn from
    ``generator``, and the value is 0, as the reference skips the penalty. The penalty's graph
    starts at ``z.detach()``, apart from the loss's: its gradient reaches the decoder's
    parameters only, chunk by chunk (:func:`~jlonevae_lib.architecture.jacobian.
    jacobian_penalty_backward`), in IEEE float32 also in a bf16 run (autocast off, z taken to
    float32: the float32 penalty, bit for bit).
    """
    if gamma == 0:
        return torch.zeros((), device=z.device)
    return jacobian_penalty_backward(
        model.decode, z.detach(), gamma, penalty=config.regularization_type,
        method=config.jacobian_method, sub_batch=config.jacobian_batch, generator=generator,
        chunk_size=chunk_size,
    )
