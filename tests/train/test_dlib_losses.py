"""disentanglement_lib's baseline losses against independent NumPy formulas on tiny tensors.

disentanglement_lib's own loss functions are TensorFlow ops and cannot run here, so each
oracle below is the textbook formula written out in float64 NumPy, in a different form from
ours where one exists (log-densities from the variance, TC from products of densities,
covariances from ``np.cov``). Ours run in float32, hence the relative tolerance.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from jlonevae_lib.train import dlib_losses as dl

RTOL = 1e-5
B, D = 5, 3


def tensors(seed: int = 0, batch: int = B, latent: int = D):
    """mu, logvar, z: (batch, latent) float32, with z drawn from the posteriors."""
    rng = np.random.default_rng(seed)
    mu = rng.normal(size=(batch, latent)).astype(np.float32)
    logvar = rng.uniform(-1.5, 0.5, size=(batch, latent)).astype(np.float32)
    z = (mu + rng.normal(size=mu.shape) * np.exp(logvar / 2)).astype(np.float32)
    return torch.from_numpy(mu), torch.from_numpy(logvar), torch.from_numpy(z)


def f64(t: torch.Tensor) -> np.ndarray:
    return t.detach().numpy().astype(np.float64)


def np_kl(mu: np.ndarray, logvar: np.ndarray) -> float:
    var = np.exp(logvar)
    # KL(N(m, v) || N(0, 1)) = ½(v + m² − 1 − log v) per dimension.
    return float(np.mean(np.sum(0.5 * (var + mu**2 - 1 - np.log(var)), axis=1)))


def test_bernoulli_logits_loss_is_summed_sigmoid_cross_entropy():
    rng = np.random.default_rng(1)
    logits = rng.normal(scale=3, size=(4, 1, 3, 3)).astype(np.float32)
    logits[0, 0, 0, :] = [40.0, -40.0, 0.0]  # saturated logits stay finite
    x = rng.uniform(size=logits.shape).astype(np.float32)
    x[0, 0, 0, :2] = [0.0, 1.0]
    lg, xx = logits.astype(np.float64), x.astype(np.float64)
    # −[x·log σ(l) + (1 − x)·log(1 − σ(l))] = log(1 + e^l) − x·l, in a stable form.
    per_pixel = np.logaddexp(0, lg) - xx * lg
    expected = per_pixel.reshape(4, -1).sum(axis=1).mean()
    ours = dl.bernoulli_logits_loss(torch.from_numpy(logits), torch.from_numpy(x))
    assert float(ours) == pytest.approx(expected, rel=RTOL)
    # Away from saturation it is the BCE of the sigmoid, as the JL1-VAE loss computes it.
    mild = torch.from_numpy(logits[1:])
    bce = F.binary_cross_entropy(torch.sigmoid(mild), torch.from_numpy(x[1:]),
                                 reduction="sum") / 3
    assert float(dl.bernoulli_logits_loss(mild, torch.from_numpy(x[1:]))) == \
        pytest.approx(float(bce), rel=RTOL)


def test_gaussian_kl():
    mu, logvar, _ = tensors()
    assert float(dl.gaussian_kl(mu, logvar)) == pytest.approx(np_kl(f64(mu), f64(logvar)),
                                                              rel=RTOL)
    assert float(dl.gaussian_kl(torch.zeros(2, 3), torch.zeros(2, 3))) == 0.0


@pytest.mark.parametrize("step", [0, 1, 50_000, 100_000, 200_000, 300_000])
def test_annealed_capacity_is_linear_then_flat(step):
    expected = min(25.0, 25.0 * step / 100_000)
    assert dl.annealed_capacity(step, 25.0, 100_000) == pytest.approx(expected, abs=2e-6)


def test_annealed_capacity_keeps_tensorflows_float32_rounding():
    # Measured with disentanglement_lib: 24.999998 (the float32 just below 25) at the threshold,
    # and 25 once the product passes it.
    at_threshold = dl.annealed_capacity(100_000, 25.0, 100_000)
    assert at_threshold == float(np.float32(24.999998)) == float(np.nextafter(np.float32(25), 0))
    assert dl.annealed_capacity(200_000, 25.0, 100_000) == 25.0
    assert dl.annealed_capacity(0, 25.0, 100_000) == 0.0
    assert [dl.annealed_capacity(t, 5.0, 4) for t in range(6)] == [0, 1.25, 2.5, 3.75, 5, 5]


@pytest.mark.parametrize("step", [0, 1, 50_000, 100_000, 200_000])
def test_annealed_vae_regulariser(step):
    mu, logvar, _ = tensors()
    kl = dl.gaussian_kl(mu, logvar)
    capacity = min(25.0, 25.0 * step / 100_000)
    expected = 1000 * abs(np_kl(f64(mu), f64(logvar)) - capacity)
    ours = dl.annealed_vae_regulariser(kl, step, gamma=1000, c_max=25.0,
                                       iteration_threshold=100_000)
    # γ = 1000 magnifies the float32 rounding of KL and of C_t.
    assert float(ours) == pytest.approx(expected, rel=RTOL, abs=1e-2)


def test_beta_vae_regulariser():
    mu, logvar, _ = tensors()
    ours = dl.beta_vae_regulariser(dl.gaussian_kl(mu, logvar), beta=4.0)
    assert float(ours) == pytest.approx(4 * np_kl(f64(mu), f64(logvar)), rel=RTOL)


def np_dip(cov: np.ndarray, lambda_od: float, lambda_d: float) -> float:
    total = 0.0
    for i in range(cov.shape[0]):
        for j in range(cov.shape[1]):
            total += lambda_d * (cov[i, i] - 1) ** 2 if i == j else lambda_od * cov[i, j] ** 2
    return total


def test_dip_covariances():
    mu, logvar, _ = tensors(seed=2, batch=6)
    cov_mu = np.cov(f64(mu), rowvar=False, bias=True)
    np.testing.assert_allclose(dl.covariance_of_means(mu).numpy(), cov_mu, rtol=RTOL, atol=1e-6)
    cov_z = cov_mu + np.diag(np.exp(f64(logvar)).mean(axis=0))
    np.testing.assert_allclose(dl.dip_vae_ii_covariance(mu, logvar).numpy(), cov_z, rtol=RTOL,
                               atol=1e-6)


def test_dip_regulariser_weights_off_diagonal_and_diagonal_apart():
    cov = torch.tensor([[2.0, 0.5, 0.0], [0.5, 1.0, -1.0], [0.0, -1.0, 0.0]])
    # off-diagonal: 2·(0.5² + 1²) = 2.5; diagonal: (2 − 1)² + 0 + (0 − 1)² = 2.
    assert float(dl.dip_regulariser(cov, lambda_od=3.0, lambda_d=7.0)) == \
        pytest.approx(3 * 2.5 + 7 * 2)
    assert float(dl.dip_regulariser(torch.eye(3), 5.0, 50.0)) == 0.0


@pytest.mark.parametrize("lambda_od", [1.0, 5.0])
def test_dip_vae_regularisers(lambda_od):
    mu, logvar, _ = tensors(seed=3, batch=6)
    kl = dl.gaussian_kl(mu, logvar)
    np_kl_value = np_kl(f64(mu), f64(logvar))
    cov_mu = np.cov(f64(mu), rowvar=False, bias=True)
    cov_z = cov_mu + np.diag(np.exp(f64(logvar)).mean(axis=0))
    dip_i = dl.dip_vae_i_regulariser(kl, mu, lambda_od)
    dip_ii = dl.dip_vae_ii_regulariser(kl, mu, logvar, lambda_od)
    assert float(dip_i) == pytest.approx(np_kl_value + np_dip(cov_mu, lambda_od, 10 * lambda_od),
                                         rel=RTOL)
    assert float(dip_ii) == pytest.approx(np_kl_value + np_dip(cov_z, lambda_od, lambda_od),
                                          rel=RTOL)


def test_gaussian_log_density():
    mu, logvar, z = tensors(seed=4)
    var = np.exp(f64(logvar))
    expected = -0.5 * np.log(2 * np.pi * var) - (f64(z) - f64(mu)) ** 2 / (2 * var)
    np.testing.assert_allclose(dl.gaussian_log_density(z, mu, logvar).numpy(), expected,
                               rtol=RTOL, atol=1e-6)


def np_total_correlation(z: np.ndarray, mu: np.ndarray, logvar: np.ndarray) -> float:
    """mean_j [log Σ_i Π_l q(z_jl|x_i) − Σ_l log Σ_i q(z_jl|x_i)], with densities, not logs."""
    sd = np.exp(logvar / 2)
    terms = []
    for j in range(z.shape[0]):
        density = np.exp(-0.5 * ((z[j] - mu) / sd) ** 2) / (sd * math.sqrt(2 * math.pi))
        terms.append(math.log(density.prod(axis=1).sum()) - np.log(density.sum(axis=0)).sum())
    return float(np.mean(terms))


@pytest.mark.parametrize("seed", [5, 6])
def test_minibatch_weighted_total_correlation(seed):
    mu, logvar, z = tensors(seed=seed)
    expected = np_total_correlation(f64(z), f64(mu), f64(logvar))
    assert float(dl.total_correlation(z, mu, logvar)) == pytest.approx(expected, rel=RTOL,
                                                                       abs=1e-6)
    kl = dl.gaussian_kl(mu, logvar)
    tc_vae = dl.beta_tc_vae_regulariser(kl, z, mu, logvar, beta=4.0)
    assert float(tc_vae) == pytest.approx(np_kl(f64(mu), f64(logvar)) + 3 * expected, rel=RTOL,
                                          abs=1e-5)


def test_total_correlation_leaves_out_the_log_bn_constant():
    # Identical posteriors in every row: the minibatch estimate of log q(z) and of each marginal
    # both equal log B + log q(z|x), so TC = log B − d·log B = −(d − 1)·log B, the constant that
    # disentanglement_lib omits, with the sign that makes the value negative.
    mu = torch.zeros(4, 3)
    logvar = torch.zeros(4, 3)
    z = torch.tensor([[0.1, -0.3, 0.7]]).repeat(4, 1)
    assert float(dl.total_correlation(z, mu, logvar)) == pytest.approx(-2 * math.log(4), rel=1e-6)


def test_permute_dims_shuffles_each_column_reproducibly():
    z = torch.arange(24, dtype=torch.float32).reshape(8, 3)

    def permuted(seed: int) -> torch.Tensor:
        return dl.permute_dims(z, torch.Generator().manual_seed(seed))

    first = permuted(0)
    for k in range(3):
        assert sorted(first[:, k].tolist()) == z[:, k].tolist()
    assert torch.equal(first, permuted(0))
    assert not torch.equal(first, permuted(1))
    # Independent per dimension: the row orders of the columns differ.
    orders = {tuple((first[:, k] - z[0, k]).int().tolist()) for k in range(3)}
    assert len(orders) == 3


def discriminator(latent_dim: int = D, seed: int = 0) -> dl.FactorVAEDiscriminator:
    return dl.FactorVAEDiscriminator(latent_dim, generator=torch.Generator().manual_seed(seed))


def test_discriminator_shapes_names_and_forward_against_numpy():
    disc = discriminator()
    names = disc.tf_variable_names()
    assert names["d1.weight"] == "discriminator/d1/kernel"
    assert names["logits.bias"] == "discriminator/logits/bias"
    assert sorted(names.values()) == sorted(f"discriminator/{layer}/{kind}"
                                            for layer in ["d1", "d2", "d3", "d4", "d5", "d6",
                                                          "logits"]
                                            for kind in ["kernel", "bias"])
    shapes = {name: tuple(p.shape) for name, p in disc.named_parameters()}
    assert shapes["d1.weight"] == (1000, D) and shapes["d6.weight"] == (1000, 1000)
    assert shapes["logits.weight"] == (2, 1000)

    _, _, z = tensors(seed=7)
    h = f64(z)
    params = {name: f64(p) for name, p in disc.named_parameters()}
    for layer in ["d1", "d2", "d3", "d4", "d5", "d6"]:
        h = h @ params[f"{layer}.weight"].T + params[f"{layer}.bias"]
        h = np.where(h > 0, h, 0.2 * h)
    expected = h @ params["logits.weight"].T + params["logits.bias"]
    np.testing.assert_allclose(disc(z).detach().numpy(), expected, rtol=1e-4, atol=1e-6)


def test_discriminator_starts_glorot_uniform_with_zero_biases_from_its_seed():
    disc = discriminator(seed=3).requires_grad_(False)
    for layer in disc.children():
        fan_out, fan_in = layer.weight.shape
        limit = math.sqrt(6 / (fan_in + fan_out))
        assert float(layer.weight.abs().max()) <= limit
        assert not layer.bias.any()
    # Uniform on [−a, a] has standard deviation a/√3 (d2 has a million weights).
    limit = math.sqrt(6 / 2000)
    assert float(disc.d2.weight.std()) == pytest.approx(limit / math.sqrt(3), rel=0.01)
    assert torch.equal(disc.d4.weight, discriminator(seed=3).d4.weight)
    assert not torch.equal(disc.d4.weight, discriminator(seed=4).d4.weight)


def test_discriminator_loss_and_tc_against_numpy():
    logits_z = torch.tensor([[2.0, -1.0], [0.5, 0.5], [30.0, -30.0], [-1.0, 3.0]])
    logits_perm = torch.tensor([[-2.0, 1.0], [40.0, -40.0], [0.0, 1.0], [1.0, 1.5]])

    def probs(logits: np.ndarray) -> np.ndarray:
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        return np.clip(e / e.sum(axis=1, keepdims=True), 1e-6, 1 - 1e-6)

    p_z, p_perm = probs(f64(logits_z)), probs(f64(logits_perm))
    expected = -(0.5 * np.log(p_z[:, 0]).mean() + 0.5 * np.log(p_perm[:, 1]).mean())
    assert float(dl.discriminator_loss(logits_z, logits_perm)) == pytest.approx(expected,
                                                                                rel=RTOL)
    # The clip bounds the loss where the discriminator is confidently wrong (row 2 of perm).
    assert np.log(p_perm[1, 1]) == pytest.approx(math.log(1e-6))
    np.testing.assert_allclose(dl.discriminator_probs(logits_z).numpy(), p_z, rtol=RTOL)
    assert float(dl.factor_vae_tc(logits_z)) == pytest.approx((3 + 0 + 60 - 4) / 4)
    kl = torch.tensor(2.0)
    assert float(dl.factor_vae_regulariser(kl, dl.factor_vae_tc(logits_z), gamma=30.0)) == \
        pytest.approx(2 + 30 * 59 / 4)


class TinyEncoder(nn.Module):
    """x (B, 5) → mu, logvar (B, D); z sampled with a fixed noise."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(5, 2 * D)

    def forward(self, x: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        mu, logvar = self.fc(x).chunk(2, dim=1)
        return mu + noise * torch.exp(logvar / 2)


def factor_vae_setup(seed: int = 0):
    torch.manual_seed(seed)
    encoder = TinyEncoder()
    x, noise = torch.randn(6, 5), torch.randn(6, D)
    return encoder, discriminator(seed=seed), x, noise


def grads(module: nn.Module) -> list[torch.Tensor | None]:
    return [p.grad for p in module.parameters()]


def test_factor_vae_terms_are_the_losses_on_z_and_its_permutation():
    encoder, disc, x, noise = factor_vae_setup()
    disc.requires_grad_(False)
    z = encoder(x, noise).detach()
    terms = dl.factor_vae_terms(disc, z, torch.Generator().manual_seed(9))
    permuted = dl.permute_dims(z, torch.Generator().manual_seed(9))
    assert float(terms.tc) == pytest.approx(float(dl.factor_vae_tc(disc(z))), rel=1e-5)
    assert float(terms.discriminator_loss) == pytest.approx(
        float(dl.discriminator_loss(disc(z), disc(permuted))), rel=1e-5)


def test_the_vae_tc_term_sends_no_gradient_into_the_discriminator():
    encoder, disc, x, noise = factor_vae_setup()
    terms = dl.factor_vae_terms(disc, encoder(x, noise), torch.Generator().manual_seed(0))
    (30.0 * terms.tc).backward()
    assert all(g is None for g in grads(disc))
    assert all(g is not None and g.abs().sum() > 0 for g in grads(encoder))


def test_the_discriminator_loss_sends_no_gradient_into_the_encoder():
    encoder, disc, x, noise = factor_vae_setup()
    terms = dl.factor_vae_terms(disc, encoder(x, noise), torch.Generator().manual_seed(0))
    terms.discriminator_loss.backward()
    assert all(g is None for g in grads(encoder))
    assert all(g is not None for g in grads(disc))
    assert disc.d1.weight.grad.abs().sum() > 0


def test_one_backward_of_both_losses_gives_each_side_its_own_gradient():
    encoder, disc, x, noise = factor_vae_setup()

    def terms() -> dl.FactorVAETerms:
        return dl.factor_vae_terms(disc, encoder(x, noise), torch.Generator().manual_seed(0))

    terms().tc.backward()
    encoder_alone = [g.clone() for g in grads(encoder)]
    encoder.zero_grad(set_to_none=True)
    terms().discriminator_loss.backward()
    disc_alone = [g.clone() for g in grads(disc)]
    disc.zero_grad(set_to_none=True)

    both = terms()
    (both.tc + both.discriminator_loss).backward()
    for ours, alone in zip(grads(encoder) + grads(disc), encoder_alone + disc_alone,
                           strict=True):
        torch.testing.assert_close(ours, alone, rtol=1e-6, atol=1e-9)


def two_pass_terms(disc: nn.Module, z: torch.Tensor, generator: torch.Generator
                   ) -> dl.FactorVAETerms:
    """The two losses as autograd computes them from two separate passes (the formulation before
    the shared pass): TC with the discriminator's parameters detached, its loss with z
    detached."""
    frozen = {name: p.detach() for name, p in disc.named_parameters()}
    tc = dl.factor_vae_tc(torch.func.functional_call(disc, frozen, (z,)))
    z_fixed = z.detach()
    loss = dl.discriminator_loss(disc(z_fixed), disc(dl.permute_dims(z_fixed, generator)))
    return dl.FactorVAETerms(tc=tc, discriminator_loss=loss)


@pytest.mark.parametrize("gamma", [30.0, 0.0])
def test_the_shared_pass_gives_autograds_gradients_of_two_separate_passes(gamma):
    """One forward over [z; permuted z] with its own backward: the same losses and gradients
    (float32 rounding: the passes batch their rows differently) as autograd through two
    passes, for the encoder and the discriminator."""
    results = []
    for terms_of in (dl.factor_vae_terms, two_pass_terms):
        encoder, disc, x, noise = factor_vae_setup(seed=4)
        terms = terms_of(disc, encoder(x, noise), torch.Generator().manual_seed(2))
        (gamma * terms.tc + terms.discriminator_loss).backward()
        results.append(([terms.tc.detach(), terms.discriminator_loss.detach()],
                        grads(encoder) if gamma else [], grads(disc)))
    (values, encoder_grads, disc_grads), (values_ref, encoder_ref, disc_ref) = results
    torch.testing.assert_close(values, values_ref, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(encoder_grads, encoder_ref, rtol=1e-5, atol=1e-8)
    torch.testing.assert_close(disc_grads, disc_ref, rtol=1e-5, atol=1e-7)
