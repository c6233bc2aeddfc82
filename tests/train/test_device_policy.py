"""Issue 25: the CUDA path of the trainer, checked on the CPU by construction.

No GPU here, so each finding is tested on the code path the GPU takes: the deferred-check policy
forced on at the CPU (no tensor value read on the host inside a step), random states of
hand-made multi-GPU checkpoints, tensors that claim to live on a GPU (saved files hold CPU
tensors only), the numeric switches recorded and applied."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from jlonevae_lib.architecture import save_model as save_model_module
from jlonevae_lib.architecture.jacobian import _penalty_rows
from jlonevae_lib.cli import train as train_cli
from jlonevae_lib.train import trainer as trainer_module
from jlonevae_lib.train.config import TrainConfig
from jlonevae_lib.train.objectives import FiniteGuard, NonFiniteError
from jlonevae_lib.train.trainer import (
    CUBLAS_DETERMINISTIC_VALUES,
    CUBLAS_WORKSPACE_ENV,
    DevicePolicy,
    Trainer,
    TrainingDivergedError,
    check_deterministic_environment,
    own_cuda_rng_state,
    train,
    training_numerics,
)
from jlonevae_lib.utils.device import cpu_tensors
from jlonevae_lib.utils.errors import JLoneVAEError
from jlonevae_lib.utils.precision import float32_precision
from tests.train.resume import assert_bitwise_equal, final_checkpoint, interrupted_run
from tests.utils.precision_state import precision_state

#: The CUDA policy's logic, on the CPU (pinned memory needs a GPU; tested on its own below).
DEFERRED = DevicePolicy(defer_finite_checks=True, pinned_batches=False)


def jl1_config(out, **overrides) -> TrainConfig:
    settings = dict(dataset="threeDots", latent_dim=3, beta=4.0, gamma=0.1, batch_size=4,
                    num_batches=6, lr=1e-3, annealing_batches=2, jacobian_batch=2, seed=5,
                    log_interval=3, checkpoint_every=2, device="cpu", output_dir=str(out))
    settings.update(overrides)
    return TrainConfig(**settings)


def factor_vae_config(out, **overrides) -> TrainConfig:
    return jl1_config(out, objective="factor_vae", gamma=0.0, jacobian_batch=None,
                      annealing_batches=0, **overrides)


# ------------------------------------------------------------------ no host reads in a step
#: Tensor methods that hand a value to Python: on CUDA each makes the host wait for the GPU.
HOST_READS = {"item", "__bool__", "__float__", "__int__", "__index__", "tolist", "numpy", "cpu"}


class HostReads(TorchFunctionMode):
    """Records every read of a tensor's value, with the trainer's step and whether it happened
    inside ``training_step``. Adam's step counters are left out: non-capturable Adam keeps them
    on the CPU even on CUDA and reads them there by design."""

    def __init__(self, trainer: Trainer) -> None:
        super().__init__()
        self.trainer = trainer
        self.in_step = False
        self.reads: list[tuple[bool, int, str]] = []
        original = trainer.training_step

        def step():
            self.in_step = True
            try:
                return original()
            finally:
                self.in_step = False

        trainer.training_step = step

    def _adam_counter(self, tensor: torch.Tensor) -> bool:
        optimizers = [self.trainer.optimizer,
                      getattr(self.trainer.objective, "discriminator_optimizer", None)]
        return any(state.get("step") is tensor for optimizer in optimizers if optimizer
                   for state in optimizer.state.values())

    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        if (name in HOST_READS and args and isinstance(args[0], torch.Tensor)
                and not self._adam_counter(args[0])):
            self.reads.append((self.in_step, self.trainer.step, name))
        return func(*args, **(kwargs or {}))


def _fit_recording_reads(config: TrainConfig, policy: DevicePolicy) -> HostReads:
    config.run_dir.mkdir(parents=True, exist_ok=True)
    trainer = Trainer(config, policy)
    recorder = HostReads(trainer)
    with recorder:
        trainer.fit()
    return recorder


@pytest.mark.slow
@pytest.mark.parametrize("make_config", [jl1_config, factor_vae_config],
                         ids=["jlonevae", "factor_vae"])
def test_deferred_policy_reads_no_tensor_value_outside_log_and_checkpoint_steps(
        tmp_path, make_config):
    config = make_config(tmp_path, num_batches=7, log_interval=3, checkpoint_every=5)
    recorder = _fit_recording_reads(config, DEFERRED)
    in_step = [read for read in recorder.reads if read[0]]
    assert in_step == []
    allowed = {3, 5, 6, 7}  # log steps (every 3, and the last) and checkpoints (every 5)
    assert recorder.reads and {step for _, step, _ in recorder.reads} <= allowed


def test_the_recorder_sees_the_immediate_policys_reads(tmp_path):
    """The control: the CPU's immediate checks read flags inside every step, and the test
    above would have caught them."""
    recorder = _fit_recording_reads(jl1_config(tmp_path, num_batches=2), DevicePolicy())
    in_step = [name for inside, _, name in recorder.reads if inside]
    assert in_step.count("__bool__") >= 2 * 2  # model outputs and loss, each step


@pytest.mark.slow
def test_deferred_checks_train_the_same_weights_as_immediate_ones(tmp_path):
    """Only where the flags are read changes: the arithmetic is the same, bit for bit."""
    immediate, deferred = (jl1_config(tmp_path / name, num_batches=4) for name in "ab")
    train(immediate)
    deferred.run_dir.mkdir(parents=True)
    train(deferred, trainer=Trainer(deferred, DEFERRED))
    a, b = final_checkpoint(immediate), final_checkpoint(deferred)
    for part in ("model", "optimizer", "torch_rng", "data_rng", "objective_rng"):
        assert_bitwise_equal(a[part], b[part], part)


def _nan_at_batch(trainer: Trainer, bad: int) -> None:
    """The Adam step before batch ``bad`` (1-based) leaves NaN weights, as a diverging run's
    does: that batch's outputs and loss are NaN."""
    step, calls = trainer.optimizer.step, []

    def diverging_step(*args, **kwargs):
        result = step(*args, **kwargs)
        calls.append(1)
        if len(calls) == bad - 1:
            with torch.no_grad():
                next(trainer.model.parameters()).fill_(float("nan"))
        return result

    trainer.optimizer.step = diverging_step


@pytest.mark.parametrize("policy, good, where", [
    (DevicePolicy(), 6, "at batch 7"),                   # the CPU: stops before batch 7's step
    (DEFERRED, 4, "between batches 5 and 8"),            # CUDA: seen at the check after it
])
def test_a_nan_stops_the_run_with_the_last_good_checkpoint(tmp_path, policy, good, where):
    config = jl1_config(tmp_path, num_batches=12, log_interval=4, checkpoint_every=4)
    config.run_dir.mkdir(parents=True)
    trainer = Trainer(config, policy)
    _nan_at_batch(trainer, 7)
    with pytest.raises(TrainingDivergedError, match="smaller --lr") as error:
        train(config, trainer=trainer)
    assert where in str(error.value) and "NaN or infinite" in str(error.value)
    failed = json.loads((config.run_dir / "FAILED").read_text())
    assert failed["step"] == good  # the batches known to be good
    state = torch.load(config.run_dir / "checkpoints" / "checkpoint.pt", weights_only=True)
    assert state["step"] == 4  # nothing saved after the NaN, even at batch 8's checkpoint
    assert all(torch.isfinite(t).all() for t in state["model"].values())
    assert not (config.run_dir / "DONE").exists()


def test_finite_guard_immediate_and_deferred():
    good, bad = torch.tensor(True), torch.tensor(False)
    immediate = FiniteGuard()
    immediate.require(good, "fine")
    with pytest.raises(NonFiniteError, match="the loss"):
        immediate.require(bad, "the loss")
    deferred = FiniteGuard(deferred=True)
    for flag in (good, bad, good):
        deferred.require(flag, "the loss")  # nothing raised, nothing read
    deferred.require(good, "the output")
    assert deferred.failures() == ["the loss"]
    assert deferred.failures() == []  # forgotten once read


# ------------------------------------------------------------------ draws on the device
def test_penalty_rows_draw_the_numbers_a_cpu_generator_always_drew():
    z = torch.arange(32.0).reshape(16, 2)
    drawn = _penalty_rows(z, 5, torch.Generator().manual_seed(3))
    before = torch.randperm(16, generator=torch.Generator().manual_seed(3))[:5]  # the old code
    assert torch.equal(drawn, z[before])


def test_on_the_cpu_the_objective_draws_from_its_own_generator(tmp_path):
    trainer = Trainer(factor_vae_config(tmp_path))
    assert trainer.device_gen is trainer.objective_gen
    assert trainer.objective.device_generator is trainer.objective_gen


def test_the_cuda_batch_path_gives_the_cpu_batches_bit_for_bit(tmp_path, monkeypatch):
    """Pinned, compact batches (uint8 levels expanded on the device) against the CPU path's
    float32 batches; pinning needs a GPU, so it is the identity here."""
    from jlonevae_lib.data.three_dots import ThreeDotsCache

    monkeypatch.setattr(torch.Tensor, "pin_memory", lambda self: self)
    trainers = [Trainer(jl1_config(tmp_path / name), policy)
                for name, policy in (("cpu", DevicePolicy()),
                                     ("cuda", DevicePolicy(pinned_batches=True)))]
    levels = np.random.default_rng(0).integers(0, 101, size=(40, 64, 64, 1), dtype=np.uint8)
    for trainer in trainers:
        trainer.dataset = ThreeDotsCache(40)
        trainer.dataset._levels = levels  # a cache in memory
    for _ in range(3):
        cpu, cuda = (trainer.next_batch() for trainer in trainers)
        assert cuda.dtype == torch.float32 and torch.equal(cpu, cuda)


# ------------------------------------------------------------------ random state per device
CUDA_FUNCTIONS = ("is_available", "device_count", "current_device", "init", "_lazy_init",
                  "synchronize", "get_rng_state", "get_rng_state_all", "set_rng_state",
                  "set_rng_state_all", "manual_seed")


def forbid_cuda(monkeypatch) -> None:
    """Any call of these torch.cuda functions fails the test."""
    for name in CUDA_FUNCTIONS:
        def refuse(*args, _name=name, **kwargs):
            raise AssertionError(f"a CPU run called torch.cuda.{_name}")

        monkeypatch.setattr(torch.cuda, name, refuse)


def test_a_cpu_run_never_touches_cuda(tmp_path, monkeypatch):
    forbid_cuda(monkeypatch)
    config = jl1_config(tmp_path)
    interrupted_run(config, stops=2)
    state = final_checkpoint(config)
    assert state["cuda_rng"] == [] and "cuda_device_rng" not in state
    assert "objective_device_rng" not in state


def _fake_gpu_states(count: int) -> list[torch.Tensor]:
    return [torch.full((816,), k, dtype=torch.uint8) for k in range(count)]


def test_a_checkpoint_with_several_gpus_states_resumes_on_the_cpu(tmp_path, monkeypatch):
    straight, resumed = jl1_config(tmp_path / "a"), jl1_config(tmp_path / "b")
    train(straight)
    resumed.run_dir.mkdir(parents=True)
    first = Trainer(resumed)
    first.training_step()
    first.training_step()
    first.save_checkpoint()
    state = torch.load(first.checkpoint_path, weights_only=True)
    state["cuda_rng"] = _fake_gpu_states(2)  # as older code wrote it with two GPUs visible
    torch.save(state, first.checkpoint_path)
    forbid_cuda(monkeypatch)
    train(resumed)
    assert_bitwise_equal(final_checkpoint(straight)["model"], final_checkpoint(resumed)["model"])


def test_own_cuda_rng_state_takes_the_runs_gpu_or_nothing():
    states = _fake_gpu_states(2)
    assert own_cuda_rng_state(states, 1) is states[1]
    assert own_cuda_rng_state(states, 0) is states[0]
    assert own_cuda_rng_state(states, 2) is None  # resumed with more GPUs, on a later one
    assert own_cuda_rng_state([], 0) is None and own_cuda_rng_state(None, 0) is None


class CudaStub:
    """torch.cuda's generator functions, recorded (the trainer told it runs on a GPU)."""

    def __init__(self, monkeypatch, current: int = 0) -> None:
        self.set: list[tuple[int, str]] = []
        monkeypatch.setattr(torch.cuda, "current_device", lambda: current)
        monkeypatch.setattr(torch.cuda, "set_rng_state",
                            lambda state, device: self.set.append((int(state[0]), str(device))))
        monkeypatch.setattr(torch.cuda, "get_rng_state",
                            lambda device: torch.full((816,), 7, dtype=torch.uint8))


@pytest.mark.parametrize("device, saved, expected", [
    ("cuda:1", {"cuda_rng": _fake_gpu_states(2)}, [(1, "cuda:1")]),   # older file, 2 GPUs
    ("cuda", {"cuda_rng": _fake_gpu_states(2)}, [(0, "cuda")]),       # the current GPU (0)
    ("cuda:3", {"cuda_rng": _fake_gpu_states(2)}, []),                # more GPUs now: none
    ("cuda:5", {"cuda_rng": [], "cuda_device_rng": _fake_gpu_states(5)[4]}, [(4, "cuda:5")]),
])
def test_resume_on_another_gpu_index_or_count(tmp_path, monkeypatch, device, saved, expected):
    trainer = Trainer(jl1_config(tmp_path))
    stub = CudaStub(monkeypatch)
    trainer.device = torch.device(device)
    trainer._load_cuda_rng(saved)
    assert stub.set == expected


def test_a_gpu_checkpoint_holds_its_own_gpus_generators_only(tmp_path, monkeypatch):
    trainer = Trainer(jl1_config(tmp_path))
    CudaStub(monkeypatch)
    trainer.device = torch.device("cuda:1")
    trainer.device_gen = torch.Generator().manual_seed(9)  # stands for the generator on the GPU
    state = trainer.state_dict()
    assert state["cuda_rng"] == [] and int(state["cuda_device_rng"][0]) == 7
    assert torch.equal(state["objective_device_rng"], trainer.device_gen.get_state())
    # and back: the objective's device generator is restored from it
    trainer.device_gen.manual_seed(1)
    trainer._load_cuda_rng(state)
    assert torch.equal(trainer.device_gen.get_state(), state["objective_device_rng"])


# ------------------------------------------------------------------ CPU tensors in every file
class OnGPU(torch.Tensor):
    """A CPU tensor that says it lives on a GPU until moved to the CPU: what a GPU run's model,
    optimiser and discriminator hold, on a machine without one."""

    @property
    def device(self) -> torch.device:
        return torch.device("cuda", 0)

    def cpu(self, *args, **kwargs) -> torch.Tensor:
        return self.as_subclass(torch.Tensor).clone()


def _to_gpu_stand_ins(module: nn.Module, *optimizers: torch.optim.Optimizer) -> None:
    for sub in module.modules():
        for name, param in list(sub.named_parameters(recurse=False)):
            replacement = nn.Parameter(param.detach().as_subclass(OnGPU))
            for optimizer in optimizers:
                if param in optimizer.state:
                    optimizer.state[replacement] = {
                        key: value.as_subclass(OnGPU) if key != "step" else value
                        for key, value in optimizer.state.pop(param).items()}
                for group in optimizer.param_groups:
                    group["params"] = [replacement if p is param else p for p in group["params"]]
            setattr(sub, name, replacement)


def _tensors(obj):
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, dict):
        for value in obj.values():
            yield from _tensors(value)
    elif isinstance(obj, list | tuple):
        for value in obj:
            yield from _tensors(value)


def _plain_cpu(obj) -> bool:
    tensors = list(_tensors(obj))
    return bool(tensors) and all(type(t) in (torch.Tensor, nn.Parameter)
                                 and t.device.type == "cpu" for t in tensors)


def test_checkpoints_and_saved_models_hold_cpu_tensors_only(tmp_path, monkeypatch):
    trainer = Trainer(factor_vae_config(tmp_path))
    trainer.config.run_dir.mkdir(parents=True)
    trainer.training_step()  # Adam moments for the model and the discriminator
    objective = trainer.objective
    _to_gpu_stand_ins(trainer.model, trainer.optimizer)
    _to_gpu_stand_ins(objective.discriminator, objective.discriminator_optimizer)
    assert not _plain_cpu(trainer.model.state_dict())  # the stand-ins do claim a GPU
    saved = []
    monkeypatch.setattr(trainer_module, "atomic_torch_save",
                        lambda obj, path, **kw: saved.append(obj))
    monkeypatch.setattr(save_model_module, "atomic_torch_save",
                        lambda obj, path, **kw: saved.append(obj))
    trainer.save_checkpoint()
    save_model_module.save_model(trainer.model, tmp_path / "model")
    checkpoint, state_dict = saved
    assert _plain_cpu(checkpoint) and _plain_cpu(state_dict)
    for part in ("model", "optimizer", "objective"):
        assert _plain_cpu(checkpoint[part]), part
    assert list(state_dict) == list(trainer.model.state_dict())


def test_cpu_tensors_returns_cpu_objects_unchanged():
    state = nn.Conv2d(1, 2, 3).state_dict()
    nested = {"a": [state, (torch.ones(2), 3)], "b": "text"}
    assert cpu_tensors(nested) is nested  # nothing copied: CPU files stay byte for byte
    moved = cpu_tensors({"m": nn.Conv2d(1, 2, 3).state_dict(), "t": torch.ones(2).as_subclass(
        OnGPU)})
    assert type(moved["t"]) is torch.Tensor and moved["m"]._metadata  # metadata kept


# ------------------------------------------------------------------ numeric switches
def test_training_numerics_applies_tf32_on_cuda_only_and_restores():
    before = precision_state()
    with training_numerics(jl1_config(".", allow_tf32=True), torch.device("cuda")):
        assert precision_state()["tf32_cudnn"] is True
        assert precision_state()["tf32_matmul"] is True
    with float32_precision(tf32=True):  # a process with TF32 on: the run's False wins
        with training_numerics(jl1_config("."), torch.device("cuda")):
            assert precision_state()["tf32_cudnn"] is False
        with training_numerics(jl1_config(".", allow_tf32=False), torch.device("cpu")):
            assert precision_state()["tf32_cudnn"] is True  # the CPU: left alone
    assert precision_state() == before


def test_training_numerics_deterministic_and_restored():
    assert not torch.are_deterministic_algorithms_enabled()
    with training_numerics(jl1_config(".", deterministic=True), torch.device("cpu")):
        assert torch.are_deterministic_algorithms_enabled()
        assert torch.backends.cudnn.benchmark is False
    assert not torch.are_deterministic_algorithms_enabled()


def test_deterministic_cuda_needs_the_cublas_setting():
    config = jl1_config(".", deterministic=True)
    with pytest.raises(JLoneVAEError, match="CUBLAS_WORKSPACE_CONFIG=:4096:8"):
        check_deterministic_environment(config, torch.device("cuda"), environ={})
    with pytest.raises(JLoneVAEError, match="':0:0'"):
        check_deterministic_environment(config, torch.device("cuda"),
                                        environ={CUBLAS_WORKSPACE_ENV: ":0:0"})
    check_deterministic_environment(config, torch.device("cuda"),
                                    environ={CUBLAS_WORKSPACE_ENV: ":4096:8"})
    check_deterministic_environment(config, torch.device("cpu"), environ={})
    check_deterministic_environment(jl1_config("."), torch.device("cuda"), environ={})


def test_the_flags_are_recorded_applied_and_change_no_cpu_weight(tmp_path, monkeypatch):
    plain, flagged = jl1_config(tmp_path / "a"), jl1_config(tmp_path / "b", allow_tf32=True,
                                                             deterministic=True)
    train(plain)
    seen = []
    original = Trainer.training_step

    def step(self):
        seen.append(torch.are_deterministic_algorithms_enabled())
        return original(self)

    monkeypatch.setattr(Trainer, "training_step", step)
    train(flagged)
    assert seen == [True] * flagged.num_batches
    assert not torch.are_deterministic_algorithms_enabled()  # restored after the run
    config = json.loads((flagged.run_dir / "config.json").read_text())
    done = json.loads((flagged.run_dir / "DONE").read_text())
    assert config["allow_tf32"] is True and config["deterministic"] is True
    assert done["allow_tf32"] is True and done["deterministic"] is True
    assert done["finite_checks"] == "immediate"
    assert json.loads((plain.run_dir / "DONE").read_text())["deterministic"] is False
    assert_bitwise_equal(final_checkpoint(plain)["model"], final_checkpoint(flagged)["model"])
    # the same run: resuming it with other switches is allowed
    assert plain.same_run_as(TrainConfig.from_dict({**plain.to_dict(), "allow_tf32": True}))


def test_command_line_flags_and_the_cublas_environment(tmp_path, monkeypatch):
    assert train_cli.CUBLAS_WORKSPACE_ENV == CUBLAS_WORKSPACE_ENV
    assert train_cli.CUBLAS_DETERMINISTIC in CUBLAS_DETERMINISTIC_VALUES
    # setenv first: a delenv of an unset variable records nothing to undo, and main() sets it.
    monkeypatch.setenv(CUBLAS_WORKSPACE_ENV, "")
    monkeypatch.delenv(CUBLAS_WORKSPACE_ENV)
    argv = ["--dataset", "threeDots", "--num-batches", "1", "--latent-dim", "2",
            "--batch-size", "2", "--device", "cpu", "--output-dir", str(tmp_path)]
    config = train_cli.config_from_args(train_cli.build_parser().parse_args(argv))
    assert (config.allow_tf32, config.deterministic) == (False, False)
    assert train_cli.main([*argv, "--allow-tf32", "--deterministic"]) == 0
    assert os.environ[CUBLAS_WORKSPACE_ENV] == ":4096:8"  # set before anything started CUDA
    (run,) = (tmp_path / "trainedModels").glob("*/*")
    assert json.loads((run / "config.json").read_text())["deterministic"] is True


def test_config_refuses_non_boolean_switches():
    with pytest.raises(JLoneVAEError, match="allow_tf32 must be true or false"):
        jl1_config(".", allow_tf32="yes")
