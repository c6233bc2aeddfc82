"""An independent, functional re-statement of the forward pass in docs/method.md, for tests.

It computes the model from a state dict and the 12 kwargs with plain ``torch.nn.functional``
calls, transposed convolutions WITHOUT padding followed by the explicit TensorFlow-'SAME' crop
(floor(excess/2) top/left, the rest bottom/right), as the reference implementation did.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.nn import functional as F


def reference_encode(state: dict[str, torch.Tensor], args: dict[str, Any],
                     x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    h = x
    for i, stride in enumerate(args["emb_conv_layers_strides"]):
        h = F.relu(F.conv2d(h, state[f"emb_convs.{i}.weight"], state[f"emb_convs.{i}.bias"],
                            stride=stride))
    h = h.flatten(1)
    for i in range(len(args["emb_fc_layers_num_features"])):
        h = F.relu(F.linear(h, state[f"emb_fcs.{i}.weight"], state[f"emb_fcs.{i}.bias"]))
    mu = F.linear(h, state["fcmu.weight"], state["fcmu.bias"])
    logvar = F.linear(h, state["fclogvar.weight"], state["fclogvar.bias"])
    return mu, logvar


def reference_decode(state: dict[str, torch.Tensor], args: dict[str, Any],
                     z: torch.Tensor) -> torch.Tensor:
    h = z
    num_fcs = len(args["gen_fc_layers_num_features"])
    num_convs = len(args["gen_conv_layers_channels"])
    for i in range(num_fcs):
        h = F.linear(h, state[f"gen_fcs.{i}.weight"], state[f"gen_fcs.{i}.bias"])
        if not (num_convs == 0 and i == num_fcs - 1):
            h = F.relu(h)
    side = args["gen_first_im_side_len"]
    h = h.reshape(h.shape[0], -1, side, side)
    for i, stride in enumerate(args["gen_conv_layers_strides"]):
        h = F.conv_transpose2d(h, state[f"gen_convs.{i}.weight"], state[f"gen_convs.{i}.bias"],
                               stride=stride)
        if i < num_convs - 1:
            h = F.relu(h)
        target = side * stride
        first = (h.shape[-1] - target) // 2
        h = h[..., first:first + target, first:first + target]
        side = target
    return torch.sigmoid(h)
