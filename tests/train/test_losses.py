import math

import pytest
import torch

from jlonevae_lib.train.losses import annealed, bernoulli_nll, gaussian_kl_terms, jlonevae_loss


@pytest.mark.parametrize(
    ("step", "expected"),
    [(0, 0.0), (1, 0.04), (50, 2.0), (99, 3.96), (100, 4.0), (5000, 4.0)],
)
def test_linear_annealing(step, expected):
    assert annealed(4.0, step, 100) == pytest.approx(expected)


def test_no_annealing_when_zero_batches():
    assert annealed(4.0, 0, 0) == 4.0


def test_loss_equals_hand_computation():
    # Two 1x1x2 "images", latent size 2: every term written out by hand.
    x = torch.tensor([[[[1.0, 0.0]]], [[[0.5, 1.0]]]])
    recon = torch.tensor([[[[0.8, 0.1]]], [[[0.5, 0.6]]]])
    mu = torch.tensor([[1.0, 0.0], [0.0, -2.0]])
    logvar = torch.tensor([[0.0, math.log(2.0)], [0.0, 0.0]])
    penalty = torch.tensor(3.0)

    def bce(t, p):
        return -(t * math.log(p) + (1 - t) * math.log(1 - p))

    nll = (bce(1, 0.8) + bce(0, 0.1) + bce(0.5, 0.5) + bce(1, 0.6)) / 2
    mu_div = 0.5 * (1 + 4) / 2
    var_div = -0.5 * (1 + math.log(2.0) - 2.0) / 2  # only one non-zero logvar
    terms = jlonevae_loss(recon, x, mu, logvar, penalty, beta=4.0, gamma=0.1)

    assert float(bernoulli_nll(recon, x)) == pytest.approx(nll, rel=1e-6)
    kl = gaussian_kl_terms(mu, logvar)
    assert float(kl.mu_div) == pytest.approx(mu_div, rel=1e-6)
    assert float(kl.var_div) == pytest.approx(var_div, rel=1e-6)
    assert float(terms.total) == pytest.approx(nll + 4.0 * (mu_div + var_div) + 0.3, rel=1e-6)
    assert set(terms.scalars()) == {"ICALoss/train", "ELBO/train", "KLD/train", "MuDiv/train",
                                    "VarDiv/train", "NLL/train", "beta", "gamma"}
