"""disentanglement_lib's six baselines as objectives: wired to the right regulariser with the
right hyperparameters, trained by the unchanged trainer, FactorVAE resumed bit for bit."""

from __future__ import annotations

import pytest
import torch

from jlonevae_lib.architecture.registry import build_architecture
from jlonevae_lib.runs import layout
from jlonevae_lib.train import dlib_losses as dl
from jlonevae_lib.train.config import TrainConfig
from jlonevae_lib.train.objectives import objective_class
from jlonevae_lib.train.trainer import Trainer, train
from jlonevae_lib.utils.errors import DataFileError, JLoneVAEError
from tests.train.resume import assert_resumes_bit_identically

BASELINES = ("beta_vae", "annealed_vae", "factor_vae", "dip_vae_i", "dip_vae_ii", "beta_tc_vae")
#: disentanglement_lib's values at hyperparameter index 2 (the paper's), beyond β.
PAPER_PARAMS = {"beta_vae": {}, "annealed_vae": {"c_max": 25.0, "gamma": 1000.0,
                                                 "iteration_threshold": 100000.0},
                "factor_vae": {"gamma": 30.0},
                "dip_vae_i": {"lambda_d_factor": 10.0, "lambda_od": 5.0},
                "dip_vae_ii": {"lambda_d_factor": 1.0, "lambda_od": 5.0}, "beta_tc_vae": {}}


def baseline_config(out, objective: str, **overrides) -> TrainConfig:
    settings = dict(dataset="threeDots", architecture="defaultConv", objective=objective,
                    latent_dim=3, beta=4.0, gamma=0.0, batch_size=6, num_batches=4, lr=1e-3,
                    annealing_batches=0, seed=2, log_interval=2, checkpoint_every=2,
                    device="cpu", output_dir=str(out))
    settings.update(overrides)
    return TrainConfig(**settings)


@pytest.mark.parametrize("objective", BASELINES)
def test_defaults_are_the_papers_and_names_follow_the_generic_form(objective):
    config = baseline_config(".", objective)
    assert config.objective_params == PAPER_PARAMS[objective]
    name = config.experiment_name
    assert name.startswith(f"defaultConv_{objective}_") and name.endswith("_lat3_batch6_lr0_0010")
    if objective == "factor_vae":
        assert name == "defaultConv_factor_vae_gamma30_0000_lat3_batch6_lr0_0010"


def test_bad_settings_are_refused_in_one_line():
    with pytest.raises(JLoneVAEError, match="no parameter lambda; its parameters: gamma"):
        baseline_config(".", "factor_vae", objective_params={"lambda": 1.0})
    with pytest.raises(JLoneVAEError, match="must be a number >= 0"):
        baseline_config(".", "dip_vae_i", objective_params={"lambda_od": -1.0})
    with pytest.raises(JLoneVAEError, match="only with gamma > 0"):
        baseline_config(".", "dip_vae_ii", jacobian_batch=2)
    with pytest.raises(JLoneVAEError, match="annealing_batches to 0"):
        baseline_config(".", "factor_vae", annealing_batches=10)
    baseline_config(".", "beta_vae", annealing_batches=10)  # β-VAE's β may ramp up
    # With the Jacobian penalty (tests/train/test_penalty_objectives.py), γ may ramp up.
    baseline_config(".", "factor_vae", gamma=0.1, annealing_batches=10, jacobian_batch=2)


def _regulariser_recomputed(objective, model, x, config, step):
    """The objective's loss recomputed from the pure functions, from the same noise."""
    torch.manual_seed(9)
    mu, logvar = model.encode(x)
    z = model.reparameterize(mu, logvar)
    reconstruction = dl.bernoulli_logits_loss(model.decode_logits(z), x)
    kl = dl.gaussian_kl(mu, logvar)
    p = config.objective_params
    regulariser = {
        "beta_vae": lambda: dl.beta_vae_regulariser(kl, config.beta),
        "annealed_vae": lambda: dl.annealed_vae_regulariser(kl, step, p["gamma"], p["c_max"],
                                                            int(p["iteration_threshold"])),
        "dip_vae_i": lambda: dl.dip_vae_i_regulariser(kl, mu, p["lambda_od"],
                                                      p["lambda_d_factor"]),
        "dip_vae_ii": lambda: dl.dip_vae_ii_regulariser(kl, mu, logvar, p["lambda_od"],
                                                        p["lambda_d_factor"]),
        "beta_tc_vae": lambda: dl.beta_tc_vae_regulariser(kl, z, mu, logvar, config.beta),
    }[objective]()
    return reconstruction + regulariser


@pytest.mark.parametrize("objective", [b for b in BASELINES if b != "factor_vae"])
def test_each_loss_is_its_regulariser_with_its_hyperparameters(objective):
    params = {"annealed_vae": {"c_max": 7.0, "iteration_threshold": 10.0},
              "dip_vae_i": {"lambda_od": 2.0, "lambda_d_factor": 3.0},
              "dip_vae_ii": {"lambda_od": 2.0, "lambda_d_factor": 3.0}}.get(objective, {})
    config = baseline_config(".", objective, beta=3.0, objective_params=params)
    torch.manual_seed(0)
    model = build_architecture("defaultConv", 1, 3)
    x = torch.rand(6, 1, 64, 64)
    method = objective_class(objective)(config, torch.device("cpu"), torch.Generator())
    torch.manual_seed(9)
    terms = method.loss(model, x, step=4)
    expected = _regulariser_recomputed(objective, model, x, config, step=4)
    torch.testing.assert_close(terms.total, expected, rtol=0, atol=0)
    scalars = terms.scalars()
    assert {"reconstruction_loss", "kl_loss", "regularizer", "loss", "elbo"} <= set(scalars)
    assert scalars["loss"] == pytest.approx(terms.total.item())


@pytest.mark.parametrize("objective", BASELINES)
def test_each_baseline_trains_and_finishes(tmp_path, objective):
    result = train(baseline_config(tmp_path, objective))
    assert result.num_batches == 4 and (result.model_dir / "model_state_dict.pt").is_file()
    assert all(torch.isfinite(torch.tensor(v)) for v in result.final_scalars.values())


def test_factor_vae_trains_its_discriminator_and_resumes_bit_identically(tmp_path):
    """The discriminator, its Adam and the permutations' generator resume with the rest."""
    final = assert_resumes_bit_identically(
        baseline_config(tmp_path / "a", "factor_vae", num_batches=6, checkpoint_every=1),
        baseline_config(tmp_path / "b", "factor_vae", num_batches=6, checkpoint_every=1))
    disc_a = final["objective"]["discriminator"]
    assert len(disc_a) == 14  # d1..d6 and logits, weight and bias each
    assert final["objective"]["discriminator_optimizer"]["state"]
    fresh = Trainer(baseline_config(tmp_path / "c", "factor_vae")).objective.discriminator
    assert not torch.equal(fresh.state_dict()["d1.weight"], disc_a["d1.weight"])


def _one_line_data_error(call) -> str:
    with pytest.raises(DataFileError) as raised:
        call()
    message = str(raised.value)
    assert "\n" not in message
    return message


def test_a_checkpoint_without_factor_vaes_discriminator_is_a_one_line_data_error(tmp_path):
    """issue 28: FactorVAE.load_state_dict({}) ended in a KeyError's traceback."""
    config = baseline_config(tmp_path, "factor_vae")
    objective = Trainer(config).objective
    message = _one_line_data_error(lambda: objective.load_state_dict({}))
    assert "lacks FactorVAE's discriminator" in message
    assert str(layout.checkpoint_path(config.run_dir)) in message and "delete it" in message
    # Half of it, or a discriminator of another size (another latent_dim), likewise.
    state = objective.state_dict()
    half = {"discriminator": state["discriminator"]}
    assert "lacks FactorVAE's discriminator" in _one_line_data_error(
        lambda: objective.load_state_dict(half))
    other = Trainer(baseline_config(tmp_path / "b", "factor_vae", latent_dim=4)).objective
    assert "delete it" in _one_line_data_error(
        lambda: objective.load_state_dict(other.state_dict()))


@pytest.mark.parametrize("objective", [b for b in BASELINES if b != "factor_vae"])
def test_a_checkpoint_with_another_objectives_state_is_a_one_line_data_error(tmp_path,
                                                                             objective):
    config = baseline_config(tmp_path, objective)
    factor = Trainer(baseline_config(tmp_path / "f", "factor_vae")).objective.state_dict()
    message = _one_line_data_error(lambda: Trainer(config).objective.load_state_dict(factor))
    assert "belongs to another objective" in message and "delete it" in message
