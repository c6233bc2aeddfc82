"""Our six baselines against disentanglement_lib's own TensorFlow code, on the same weights and
inputs (:mod:`jlonevae_lib.dlib_tf.oracle` runs its ``model_fn`` with the random draws fixed).

Compared for each method: the reconstruction term, the KL, the regulariser, the VAE's loss,
FactorVAE's discriminator loss, and the gradient of the VAE's loss with respect to the encoder's
first kernel. The two sides run different float32 kernels (summation orders differ), so values
are compared to 1e-5 relative (the reconstruction sums 4,096 terms per image), gradients to
1e-4 of their largest entry.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from jlonevae_lib.architecture.dlib_conv import CONV_KERNEL
from jlonevae_lib.data import get_named_ground_truth_data
from jlonevae_lib.runs.study_numbering import PAPER_HP_INDEX, model_number
from jlonevae_lib.train import dlib_losses
from jlonevae_lib.train.baselines import study_settings
from jlonevae_lib.train.config import TrainConfig
from jlonevae_lib.train.dlib_import import model_from_tf_weights
from jlonevae_lib.train.objectives import objective_class
from tests.dlib_tf.conftest import run_dlib

pytestmark = pytest.mark.slow

#: FactorVAE first: its graph has every variable (the discriminator too), so its initial
#: weights serve all six.
METHODS = ("factor_vae", "beta_vae", "annealed_vae", "dip_vae_i", "dip_vae_ii", "beta_tc_vae")
BATCH, LATENT_DIM = 64, 10
#: Far enough into AnnealedVAE's ramp that the capacity is neither 0 nor c_max.
GLOBAL_STEP = 30_000
VALUE_RTOL = 1e-5
GRAD_RTOL = 1e-4


@pytest.fixture(scope="module")
def oracle(dlib_python, tmp_path_factory):
    folder = tmp_path_factory.mktemp("oracle")
    rng = np.random.RandomState(0)
    images = get_named_ground_truth_data("threeDots").sample_observations(BATCH, rng)
    inputs = {"images": images.astype(np.float32),
              "eps": rng.standard_normal((BATCH, LATENT_DIM)).astype(np.float32),
              "permutation": np.stack([rng.permutation(BATCH) for _ in range(LATENT_DIM)]),
              "global_step": np.int64(GLOBAL_STEP)}
    np.savez(folder / "inputs.npz", **inputs)
    numbers = [model_number(method, PAPER_HP_INDEX, 0) for method in METHODS]
    run_dlib(dlib_python, ["-m", "jlonevae_lib.dlib_tf.oracle", "--inputs",
                           str(folder / "inputs.npz"), "--output", str(folder / "oracle.npz"),
                           "--model-nums", *map(str, numbers)])
    with np.load(folder / "oracle.npz") as data:
        results = {name: data[name] for name in data.files}
    weights = {name.removeprefix("weights/"): value for name, value in results.items()
               if name.startswith("weights/")}
    return inputs, weights, results


def _ours(method: str, inputs: dict, weights: dict, monkeypatch) -> dict[str, np.ndarray]:
    """Our objective's terms and gradient on the oracle's weights and draws."""
    model_num = model_number(method, PAPER_HP_INDEX, 0)
    config = TrainConfig(**study_settings(model_num), dataset="threeDots", device="cpu")
    model = model_from_tf_weights(weights, LATENT_DIM)
    eps = torch.from_numpy(inputs["eps"])
    monkeypatch.setattr(model, "reparameterize",
                        lambda mu, logvar: mu + eps * torch.exp(0.5 * logvar))
    permutation = torch.from_numpy(inputs["permutation"])
    monkeypatch.setattr(dlib_losses, "permute_dims", lambda z, generator: torch.stack(
        [z[permutation[k], k] for k in range(z.shape[1])], dim=1))
    objective = objective_class(method)(config, torch.device("cpu"), torch.Generator())
    if method == "factor_vae":
        discriminator = {name.removeprefix("discriminator."): torch.from_numpy(
            weights[tf_name].T.copy() if tf_name.endswith("kernel") else weights[tf_name])
            for name, tf_name in objective.discriminator.tf_variable_names().items()}
        objective.discriminator.load_state_dict(discriminator)
    x = torch.from_numpy(inputs["images"]).permute(0, 3, 1, 2).contiguous()
    terms = objective.loss(model, x, step=int(inputs["global_step"]))
    vae_loss = terms.reconstruction + terms.regulariser
    (grad,) = torch.autograd.grad(vae_loss, model.encoder.e1.weight)
    # Back to TensorFlow's [h, w, in, out]: the inverse of CONV_KERNEL's permutation.
    tf_grad = grad.numpy().transpose(np.argsort(CONV_KERNEL.axes))
    ours = {"reconstruction": terms.reconstruction, "kl": terms.kl,
            "regulariser": terms.regulariser, "loss": vae_loss}
    if method == "factor_vae":
        ours["discriminator_loss"] = terms.extra["discriminator_loss"]
    return {**{k: v.detach().numpy() for k, v in ours.items()}, "e1_kernel_grad": tf_grad}


@pytest.mark.parametrize("method", METHODS)
def test_losses_and_gradient_equal_disentanglement_lib(oracle, method, monkeypatch):
    inputs, weights, results = oracle
    model_num = model_number(method, PAPER_HP_INDEX, 0)
    ours = _ours(method, inputs, weights, monkeypatch)
    expected_names = {"reconstruction", "kl", "regulariser", "loss", "e1_kernel_grad"}
    if method == "factor_vae":
        expected_names.add("discriminator_loss")
    assert {k.split("/", 1)[1] for k in results if k.startswith(f"{model_num}/")} \
        == expected_names
    for name in sorted(expected_names - {"e1_kernel_grad"}):
        theirs = float(results[f"{model_num}/{name}"])
        assert float(ours[name]) == pytest.approx(theirs, rel=VALUE_RTOL, abs=1e-6), name
    theirs = results[f"{model_num}/e1_kernel_grad"]
    scale = np.abs(theirs).max()
    assert scale > 0
    assert np.abs(ours["e1_kernel_grad"] - theirs).max() <= GRAD_RTOL * scale


def test_the_oracle_exercises_every_regulariser(oracle):
    """Guards the comparison above against vacuous inputs: every term is non-trivial."""
    _, _, results = oracle
    for method in METHODS:
        model_num = model_number(method, PAPER_HP_INDEX, 0)
        assert abs(float(results[f"{model_num}/regulariser"])) > 1e-2, method
    kl = float(results[f"{model_number('beta_vae', PAPER_HP_INDEX, 0)}/kl"])
    # AnnealedVAE (γ = 1000, C = 25·30000/100000 = 7.5): γ·|KL − C|.
    annealed = float(results[f"{model_number('annealed_vae', PAPER_HP_INDEX, 0)}/regulariser"])
    assert annealed == pytest.approx(1000 * abs(kl - 7.5), rel=1e-5)
