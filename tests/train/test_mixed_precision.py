"""Issue 29, item 3: opt-in mixed precision, ``TrainConfig.precision = "bf16"``.

The objective's loss runs under bfloat16 autocast; the Jacobian penalty's decoder calls stay IEEE
float32 (bit for bit the float32 penalty); the loss, parameters, gradients and Adam's state are
float32; the setting is recorded in config.json, kept for the run's life and refused on a run of
the other precision."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from jlonevae_lib.architecture.jacobian import jacobian_columns_exact, jacobian_columns_fd
from jlonevae_lib.architecture.registry import build_architecture
from jlonevae_lib.cli import sweep as sweep_cli
from jlonevae_lib.cli import train as train_cli
from jlonevae_lib.runs import layout
from jlonevae_lib.sweep.members import train_arguments
from jlonevae_lib.sweep.studies import get_study, parse_setting, plan_study
from jlonevae_lib.train import losses as losses_module
from jlonevae_lib.train import objectives
from jlonevae_lib.train.config import TrainConfig
from jlonevae_lib.train.dlib_losses import DISCRIMINATOR_DEPTH, DISCRIMINATOR_WIDTH
from jlonevae_lib.train.objectives import (
    Objective,
    available_objectives,
    register_objective,
)
from jlonevae_lib.train.objectives.penalty import backpropagate_penalty
from jlonevae_lib.train.trainer import Trainer, train
from jlonevae_lib.utils.errors import JLoneVAEError
from jlonevae_lib.utils.precision import autocast_to
from tests.train.resume import assert_resumes_bit_identically


def bf16_config(out, **overrides) -> TrainConfig:
    """A tiny JL1-VAE run in bf16 (penalty on a sub-batch of 2, β/γ ramp over 2 batches)."""
    settings = dict(dataset="threeDots", latent_dim=3, beta=4.0, gamma=0.1, batch_size=4,
                    num_batches=4, lr=1e-3, annealing_batches=2, jacobian_batch=2, seed=5,
                    log_interval=2, checkpoint_every=2, device="cpu", output_dir=str(out),
                    precision="bf16")
    settings.update(overrides)
    return TrainConfig(**settings)


def baseline_bf16_config(out, objective: str, **overrides) -> TrainConfig:
    return bf16_config(out, **{"objective": objective, "gamma": 0.0, "jacobian_batch": None,
                               "annealing_batches": 0, **overrides})


# ------------------------------------------------------------------ the setting
def test_precision_round_trips_and_configs_without_it_read_as_float32(tmp_path):
    config = bf16_config(tmp_path)
    assert TrainConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    older = config.to_dict()
    del older["precision"]  # a config.json written before the field existed
    assert TrainConfig.from_dict(older).precision == "float32"
    assert TrainConfig().precision == "float32"


@pytest.mark.parametrize("value", ["fp16", "bfloat16", "", None, True])
def test_a_bad_precision_is_refused_in_one_line(value):
    with pytest.raises(JLoneVAEError, match=r"^precision must be one of float32, bf16, got "):
        bf16_config(".", precision=value)


def test_the_flag_reaches_config_json_and_done(tmp_path, capsys):
    argv = ["--dataset", "threeDots", "--num-batches", "1", "--latent-dim", "2",
            "--batch-size", "2", "--device", "cpu", "--output-dir", str(tmp_path)]
    parse = train_cli.build_parser().parse_args
    assert train_cli.config_from_args(parse(argv)).precision == "float32"
    assert train_cli.main([*argv, "--precision", "bf16"]) == 0
    (run,) = (tmp_path / "trainedModels").glob("*/*")
    assert json.loads(layout.config_path(run).read_text())["precision"] == "bf16"
    assert json.loads(layout.done_path(run).read_text())["precision"] == "bf16"
    with pytest.raises(SystemExit) as exit_:
        train_cli.main([*argv, "--precision", "fp16"])
    assert exit_.value.code == 2 and "invalid choice: 'fp16'" in capsys.readouterr().err


# ------------------------------------------------------------------ a bf16 step
def test_a_bf16_step_runs_the_networks_in_bfloat16_and_keeps_everything_else_float32(tmp_path):
    """The encoder and the reconstruction's decoder call in bfloat16, the penalty's decoder
    call (its (d + 1)·k rows) in float32; the loss, the weights, their gradients and Adam's
    moments float32; the weights move."""
    trainer = Trainer(bf16_config(tmp_path, annealing_batches=0))  # γ_t > 0 at the first step
    model = trainer.model
    seen: list[tuple[str, int, torch.dtype]] = []
    model.emb_convs[0].register_forward_hook(
        lambda module, args, out: seen.append(("encoder", out.shape[0], out.dtype)))
    model.gen_fcs[0].register_forward_hook(
        lambda module, args, out: seen.append(("decoder", out.shape[0], out.dtype)))
    before = [p.detach().clone() for p in model.parameters()]
    terms = trainer.training_step()
    assert seen == [("encoder", 4, torch.bfloat16), ("decoder", 4, torch.bfloat16),
                    ("decoder", (3 + 1) * 2, torch.float32)]
    assert terms.total.dtype == torch.float32 and torch.isfinite(terms.total)
    assert all(p.dtype == torch.float32 and p.grad.dtype == torch.float32
               for p in model.parameters())
    assert all(state[key].dtype == torch.float32 for state in trainer.optimizer.state.values()
               for key in ("exp_avg", "exp_avg_sq"))
    assert any(not torch.equal(p, q) for p, q in zip(before, model.parameters(), strict=True))
    assert not torch.is_autocast_enabled("cpu")  # only around the loss


def test_jl1_vaes_cross_entropy_runs_outside_autocast(tmp_path, monkeypatch):
    """CUDA's autocast refuses binary_cross_entropy (on probabilities) outright; the loss's
    reductions run with autocast off, on float32 values."""
    calls: list[tuple[bool, torch.dtype]] = []
    bce = F.binary_cross_entropy

    def recording_bce(recon, x, *args, **kwargs):
        calls.append((torch.is_autocast_enabled("cpu"), recon.dtype))
        return bce(recon, x, *args, **kwargs)

    monkeypatch.setattr(losses_module.F, "binary_cross_entropy", recording_bce)
    Trainer(bf16_config(tmp_path)).training_step()
    assert calls == [(False, torch.float32)]


@pytest.mark.parametrize("objective", sorted(set(available_objectives())
                                             - {"jlonevae"}))
def test_every_baseline_takes_a_bf16_step_with_a_float32_loss(tmp_path, objective):
    trainer = Trainer(baseline_bf16_config(tmp_path, objective))
    before = [p.detach().clone() for p in trainer.model.parameters()]
    terms = trainer.training_step()
    assert terms.total.dtype == torch.float32 and torch.isfinite(terms.total)
    assert all(p.grad.dtype == torch.float32 for p in trainer.model.parameters())
    assert any(not torch.equal(p, q)
               for p, q in zip(before, trainer.model.parameters(), strict=True))


def test_factor_vaes_discriminator_runs_in_bfloat16(tmp_path, monkeypatch):
    """It is part of the regulariser: autocast, like the encoder (its hand-written backward
    follows, or it would fail on the mixed dtypes); its weights and gradients stay float32."""
    trainer = Trainer(baseline_bf16_config(tmp_path, "factor_vae"))
    discriminator = trainer.objective.discriminator
    seen: list[torch.dtype] = []
    linear = F.linear

    def recording_linear(x, weight, bias=None):
        out = linear(x, weight, bias)
        if weight.shape[0] == DISCRIMINATOR_WIDTH:  # d1 … d6
            seen.append(out.dtype)
        return out

    monkeypatch.setattr(F, "linear", recording_linear)
    trainer.training_step()
    assert len(seen) == DISCRIMINATOR_DEPTH and set(seen) == {torch.bfloat16}
    assert all(p.dtype == p.grad.dtype == torch.float32 for p in discriminator.parameters())


def test_a_baseline_with_the_jacobian_penalty_takes_a_bf16_step(tmp_path):
    terms = Trainer(baseline_bf16_config(tmp_path, "beta_vae", gamma=0.1)).training_step()
    assert terms.total.dtype == torch.float32 and terms.jacobian_penalty.dtype == torch.float32


@dataclass
class _Terms:
    total: torch.Tensor

    def scalars(self) -> dict[str, float]:
        return {}

    def describe(self) -> str:
        return ""


class _Bfloat16Loss(Objective):
    """A method that reduces its loss in the autocast dtype."""

    def loss(self, model: nn.Module, x: torch.Tensor, step: int) -> _Terms:
        recon, _, _, _ = model(x)
        return _Terms(total=recon.sum())


def test_a_loss_returned_in_bfloat16_is_refused(tmp_path, monkeypatch):
    objectives._load_builtins()
    monkeypatch.setattr(objectives, "_REGISTRY", dict(objectives._REGISTRY))
    register_objective("bf16_loss_toy")(_Bfloat16Loss)
    trainer = Trainer(bf16_config(tmp_path, objective="bf16_loss_toy"))
    with pytest.raises(JLoneVAEError, match="objective's loss is torch.bfloat16 under "
                                            "precision 'bf16'; its reductions must return"):
        trainer.training_step()


# ------------------------------------------------------------------ the penalty stays float32
def _penalty_and_gradients(model: nn.Module, z: torch.Tensor, config: TrainConfig,
                           precision: str) -> list[torch.Tensor]:
    """The penalty's value and the decoder's gradients, under ``precision``'s autocast."""
    model.zero_grad(set_to_none=True)
    generator = torch.Generator().manual_seed(3)  # the same sub-batch both times
    with autocast_to(precision, "cpu"):
        value = backpropagate_penalty(model, z, 0.1, config, generator, chunk_size=8)
    return [value] + [p.grad for p in model.parameters() if p.grad is not None]


@pytest.mark.parametrize("method", ["fd", "exact"])
def test_the_penalty_in_a_bf16_run_is_the_float32_penalty_bit_for_bit(method):
    torch.manual_seed(0)
    model = build_architecture("defaultConv", 1, 3)
    z = torch.randn(6, 3)
    config = bf16_config(".", jacobian_method=method, jacobian_batch=4)
    with autocast_to("bf16", "cpu"):
        assert model.decode(z).dtype == torch.bfloat16  # the autocast is really on
    mixed = _penalty_and_gradients(model, z, config, "bf16")
    plain = _penalty_and_gradients(model, z, config, "float32")
    assert len(mixed) == len(plain) > 1
    # Bitwise by construction: one process, same shapes, and with autocast off inside the
    # penalty both sides run the same float32 kernels on the same float32 tensors.
    assert all(a.dtype == torch.float32 and torch.equal(a, b)
               for a, b in zip(mixed, plain, strict=True))


@pytest.mark.parametrize("columns", [jacobian_columns_fd, jacobian_columns_exact])
def test_jacobian_columns_of_bfloat16_latents_are_float32_columns(columns):
    """A z from a bf16 forward pass: the columns at that z, in IEEE float32."""
    torch.manual_seed(1)
    model = build_architecture("defaultConv", 1, 3)
    z = torch.randn(2, 3).bfloat16()
    with torch.no_grad():
        with autocast_to("bf16", "cpu"):
            mixed = columns(model.decode, z)
        plain = columns(model.decode, z.float())
    # Bitwise: the same process and shapes, and the columns are computed from z.float() with
    # autocast off on both sides, so the same kernels see the same tensors.
    assert mixed.dtype == torch.float32 and torch.equal(mixed, plain)


# ------------------------------------------------------------------ resume, extend, switch
@pytest.mark.slow
def test_a_bf16_jl1_run_resumes_bit_identically(tmp_path):
    assert_resumes_bit_identically(bf16_config(tmp_path / "a"), bf16_config(tmp_path / "b"),
                                   stops=2)


@pytest.mark.slow
def test_a_bf16_factor_vae_run_resumes_bit_identically(tmp_path):
    assert_resumes_bit_identically(
        baseline_bf16_config(tmp_path / "a", "factor_vae", checkpoint_every=1),
        baseline_bf16_config(tmp_path / "b", "factor_vae", checkpoint_every=1), stops=2)


def test_a_bf16_run_extends_in_bf16_and_refuses_the_other_precision(tmp_path):
    """Precision changes what a run computes: a float32 config is another run, refused in the
    bf16 run's folder (resumed or extended) with the difference named."""
    short = bf16_config(tmp_path, num_batches=2)
    train(short)
    as_float32 = dataclasses.replace(short, precision="float32")
    switched = r"precision: 'bf16' there vs 'float32' now"
    with pytest.raises(JLoneVAEError, match=r"already holds a run with other settings \(" +
                       switched):
        train(as_float32)
    with pytest.raises(JLoneVAEError, match=r"--extend continues a run of the same settings, "
                                            r"but .* holds other settings \(.*" + switched):
        train(dataclasses.replace(as_float32, num_batches=4), extend=True)
    result = train(dataclasses.replace(short, num_batches=4), extend=True)
    assert result.num_batches == 4 and not result.skipped
    recorded = json.loads(layout.config_path(short.run_dir).read_text())
    assert (recorded["precision"], recorded["extended_from"]) == ("bf16", [2])


def test_a_float32_run_refuses_to_resume_in_bf16_on_the_command_line(tmp_path, capsys):
    argv = ["--dataset", "threeDots", "--num-batches", "1", "--latent-dim", "2",
            "--batch-size", "2", "--device", "cpu", "--output-dir", str(tmp_path)]
    assert train_cli.main(argv) == 0
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        train_cli.main([*argv, "--precision", "bf16"])
    err = capsys.readouterr().err.strip()
    assert exit_.value.code == 2 and "\n" not in err
    assert "precision: 'float32' there vs 'bf16' now" in err


# ------------------------------------------------------------------ studies
def test_a_study_trains_in_bf16_through_set_and_its_members_command_lines(tmp_path):
    study = get_study("threeDots")
    assert parse_setting(study, "precision", "bf16") == "bf16"
    plan = plan_study(study, overrides={"precision": "bf16", "output_dir": str(tmp_path)})
    config = plan.members[0].config
    assert config.precision == "bf16"
    args = train_arguments(config)
    assert args[args.index("--precision") + 1] == "bf16"
    assert train_cli.config_from_args(train_cli.build_parser().parse_args(args)) == config
    assert "--precision" not in train_arguments(dataclasses.replace(config,
                                                                    precision="float32"))
    assert sweep_cli._train_flag_overrides(["--precision", "bf16", "--allow-tf32"]) == {
        "precision": "bf16", "allow_tf32": True}
