"""The prepared device check: one command on a GPU machine, PASS/FAIL lines and a JSON record.

    .venv/bin/python benchmarks/cuda_pipeline_check.py [--json PATH] [--device cuda] [--quick]

Sized for minutes on one GPU, an estimate until it has run on one (``--quick``: seconds of work
per part, for CI on the CPU). Parts,
each a few lines ``PASS``/``FAIL`` (a check), ``INFO`` (a measurement) or ``SKIP`` (needs CUDA):

1. precision: the FD penalty and Jacobian columns of the JL1 demo model on the GPU with TF32
   switched on for the whole process, against the CPU's, within ``PENALTY_RTOL`` /
   ``COLUMNS_RTOL`` (float32 kernels sum in another order; forward differences amplify that by
   1/ε); then the same with the policy bypassed, to show what TF32 alone does (INFO). On the
   CPU: TF32 emulated (inputs and weights of convolutions rounded to a 10-bit mantissa), with
   the policy and bypassed.
2. pipeline: ``jlonevae-train --deterministic`` on the device stopped by SIGTERM after a few
   checkpoints (exit 143, as a pre-empted Slurm job) and resumed: its final weights must equal
   an uninterrupted run's bit for bit; the device's losses must track the CPU's; the exported
   model (saved-model folder, TorchScript) read on the CPU and the device gives the same codes;
   ``jlonevae-evaluate`` gives the same metric on both.
3. host syncs: for the paper's objective and FactorVAE, training steps between log steps run
   under ``torch.cuda.set_sync_debug_mode("error")``: any read of the device on the host (a
   ``.item()``, a branch on a tensor, a copy from pageable memory) fails the check.
4. throughput: batches/s of the paper's configuration (defaultConv, d = 10, B = 64, FD penalty
   on the whole batch) and of each baseline (β-VAE as γ = 0, and disentanglement_lib's six on
   its architecture), with the projected time of a 300,000-batch run (INFO).
5. bf16 (``--precision bf16``): ``check_autocast_support`` accepts bf16 on the device; the
   same small run of β-VAE (dlibConv) and of JL1-VAE (defaultConv, FD penalty) trained in
   float32 and in bf16 from one seed, in interleaved blocks: ms/step and speed-up (INFO; on an
   Ampere or later GPU also PASS if bf16 is no slower than float32 × ``BF16_SLOWDOWN``), the
   bf16 run's final training loss within ``BF16_LOSS_RTOL`` of float32's; and the JL1 penalty
   and its decoder gradient inside the bf16 run equal to float32's for the same weights and
   latents (bit for bit on the CPU, ``PENALTY_RTOL`` on CUDA).
6. members per GPU: the paper's configuration trained by 4 processes at once on the one GPU,
   against 1 alone: each process's batches/s and the total (INFO; PASS if all 4 ran).

Without CUDA (or with ``--device cpu``) parts 1, 2, 4 and 5 run on the CPU and say so; 3, 6
and 5's speed gate print SKIP. ``tests/train/test_cuda_pipeline_check.py`` runs it that way
with ``--quick``. It exits 1 if any check fails. ``--json`` (default
``cuda_pipeline_check.json`` in the current folder) receives every line's values, the device,
torch/CUDA/cuDNN versions and timings, and part 5's figures under ``bf16``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from jlonevae_lib.architecture import jacobian
from jlonevae_lib.architecture.export import load_torchscript
from jlonevae_lib.architecture.load_model import load_model
from jlonevae_lib.data.ground_truth import DATA_ROOT_ENV
from jlonevae_lib.runs import layout
from jlonevae_lib.utils.device import pick_device
from jlonevae_lib.utils.errors import JLoneVAEError
from jlonevae_lib.utils.exit_status import EXIT_SIGTERM
from jlonevae_lib.utils.precision import autocast_to, check_autocast_support, float32_precision
from jlonevae_lib.utils.timing import environ_default, present_cpu_flags

if TYPE_CHECKING:  # imported where used, after the process's set-up
    from jlonevae_lib.train.config import TrainConfig
    from jlonevae_lib.train.trainer import Trainer

HERE = Path(__file__).resolve()
TRAIN = [sys.executable, "-m", "jlonevae_lib.train.train_jlonevae_models"]
EVALUATE = [sys.executable, "-m", "jlonevae_lib.evaluate.evaluation"]
#: A toy JL1-VAE run on procedural three-dots: every part of a training step, in seconds.
RUN_FLAGS = ["--dataset", "threeDots", "--latent-dim", "4", "--batch-size", "16", "--beta", "4",
             "--gamma", "0.1", "--jacobian-batch", "4", "--annealingBatches", "5", "--lr",
             "0.001", "--log-interval", "1", "--checkpoint-every", "2", "--seed", "3"]
METRIC = "small_local_mig"
#: Tolerances of the device-against-CPU comparisons (see the module docstring). The penalty
#: sums |J| over 10 columns of 4,096 pixels: kernel rounding (~1e-7 relative) amplified by
#: 1/ε = 1e3 averages out in it; single columns keep more of it.
PENALTY_RTOL = 2e-3
COLUMNS_RTOL = 2e-2
LOSS_RTOL = 0.05
CODES_ATOL = 1e-4
METRIC_ATOL = 0.02
PAPER_BATCHES = 300_000
#: issue 5's goal for the paper's run on one H100.
GOAL_MINUTES = 15.0
MEMBERS = 4
#: Part 5 (bf16). Runs of BF16_STEPS batches timed in interleaved blocks of BF16_BLOCK (the
#: first block of each run left out: one-time set-up); the final loss is the mean of the last
#: BF16_LOSS_TAIL batches. --quick: (BF16_QUICK_STEPS, BF16_QUICK_BLOCK, BF16_QUICK_TAIL).
BF16_STEPS, BF16_BLOCK, BF16_LOSS_TAIL = 300, 50, 100
BF16_QUICK_STEPS, BF16_QUICK_BLOCK, BF16_QUICK_TAIL = 8, 2, 4
#: The bf16 run's final loss against the float32 run's, relative. The two runs part after the
#: first step (another rounding, as another seed would) and track each other. The gaps measured
#: on the CPU are in benchmarks/README.md (bench_cuda_training.py); the tolerance is four times
#: the worst of them, for another device's rounding; a bf16 that broke the loss (a reduction in
#: bfloat16, a gradient lost) is meant to land outside it.
BF16_LOSS_RTOL = 0.02
#: On CUDA (Ampere or later, where bf16 is native), bf16 may take at most this times float32's
#: ms/step. A PASS/FAIL, not INFO: on a GPU held by this check alone the median of interleaved
#: blocks varies by a few percent, inside the 10%; a FAIL means bf16 does not pay at the
#: paper's sizes on that GPU (kernel launches rather than arithmetic bound the step, and
#: autocast adds casts), a finding about the option worth a red line, not noise. --quick
#: (batches of 8, too few to time), the CPU and pre-Ampere GPUs (emulated bf16, slower by
#: design) report INFO only, the gate's line SKIP.
BF16_SLOWDOWN = 1.1
BF16_PENALTY_LINE = "bf16: JL1 penalty and its decoder gradient in a bf16 run = float32's"


@dataclass
class Check:
    name: str
    status: str  # PASS, FAIL, INFO or SKIP
    detail: str
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.status != "FAIL"


def _check(name: str, ok: bool, detail: str, **values: Any) -> Check:
    return Check(name, "PASS" if ok else "FAIL", detail, values)


def _failed(name: str, err: BaseException) -> Check:
    return Check(name, "FAIL", f"{type(err).__name__}: {str(err).strip()[-400:]}")


# ------------------------------------------------------------------ 1. precision
def _tf32_round(t: torch.Tensor) -> torch.Tensor:
    bits = t.contiguous().view(torch.int32)
    return ((bits + 0x1000) & ~0x1FFF).view(torch.float32)


class _EmulatedTF32(torch.overrides.TorchFunctionMode):
    """On the CPU: convolutions see TF32-rounded inputs and weights while cuDNN's switch is on."""

    def __torch_function__(self, func: Callable[..., Any], types: Any, args: tuple = (),
                           kwargs: dict | None = None) -> Any:
        if (getattr(func, "__name__", "") in ("conv2d", "conv_transpose2d")
                and torch.backends.cudnn.allow_tf32):
            args = (_tf32_round(args[0]), _tf32_round(args[1]), *args[2:])
        return func(*args, **(kwargs or {}))


@contextlib.contextmanager
def _policy_bypassed():
    original = jacobian.ieee_float32
    jacobian.ieee_float32 = contextlib.nullcontext
    try:
        yield
    finally:
        jacobian.ieee_float32 = original


def _demo_model_and_latents():
    """The shipped JL1-VAE demo (CPU) and 16 latents: the paper's example image's mean code and
    15 points around it."""
    from jlonevae_lib.demo_models import demo_run_dirs
    from jlonevae_lib.visualize.inputs import example_three_dots_image, load_model_from

    model = load_model_from(demo_run_dirs()[1])
    with torch.no_grad():
        mu = model.encode(torch.as_tensor(example_three_dots_image()))[0]
    noise = torch.randn(15, mu.shape[1], generator=torch.Generator().manual_seed(0))
    return model, torch.cat([mu, mu + 0.5 * noise])


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.cpu() - b.cpu()).norm() / b.cpu().norm())


def check_precision(device: torch.device) -> list[Check]:
    model, z = _demo_model_and_latents()
    with torch.no_grad():
        exact = jacobian.jacobian_columns_exact(model.decode, z)
        reference = jacobian.jacobian_columns_fd(model.decode, z)  # CPU, IEEE float32
    ref_penalty = float(jacobian.jacobian_l1(reference))
    checks = []
    if device.type != "cuda":
        with torch.no_grad(), float32_precision(tf32=True), _EmulatedTF32():
            policy = jacobian.jacobian_columns_fd(model.decode, z)
            with _policy_bypassed():
                bypassed = jacobian.jacobian_columns_fd(model.decode, z)
        gap, bypass_gap = _rel(policy, exact), _rel(bypassed, exact)
        checks.append(_check(
            "precision: FD Jacobian under emulated TF32 (CPU)", gap < COLUMNS_RTOL < bypass_gap,
            f"error against exact columns {gap:.2%} with the policy, {bypass_gap:.1%} bypassed",
            policy_error=gap, bypassed_error=bypass_gap))
        checks.append(Check("precision: FD penalty on CUDA = on the CPU, TF32 on", "SKIP",
                            "needs CUDA"))
        return checks
    gpu_model = model.to(device)
    with torch.no_grad(), float32_precision(tf32=True):  # a process with TF32 everywhere
        on_gpu = jacobian.jacobian_columns_fd(gpu_model.decode, z.to(device))
        with _policy_bypassed():
            bypassed = jacobian.jacobian_columns_fd(gpu_model.decode, z.to(device))
    penalty, bypass_penalty = (float(jacobian.jacobian_l1(c)) for c in (on_gpu, bypassed))
    penalty_gap = abs(penalty / ref_penalty - 1)
    columns_gap = _rel(on_gpu, reference)
    checks.append(_check(
        "precision: FD penalty on CUDA = on the CPU, TF32 on", penalty_gap <= PENALTY_RTOL,
        f"penalty {penalty:.6g} vs {ref_penalty:.6g} (relative {penalty_gap:.2e}, allowed "
        f"{PENALTY_RTOL:g})", relative=penalty_gap, gpu=penalty, cpu=ref_penalty))
    checks.append(_check(
        "precision: FD columns on CUDA = on the CPU, TF32 on", columns_gap <= COLUMNS_RTOL,
        f"relative error {columns_gap:.2e} (allowed {COLUMNS_RTOL:g}); against exact columns: "
        f"GPU {_rel(on_gpu, exact):.2%}, CPU {_rel(reference, exact):.2%}",
        relative=columns_gap))
    checks.append(Check(
        "precision: the same with the policy bypassed", "INFO",
        f"penalty {abs(bypass_penalty / ref_penalty - 1):.2%} off the CPU's, columns "
        f"{_rel(bypassed, reference):.1%} (TF32 rounding / ε)",
        {"penalty_relative": abs(bypass_penalty / ref_penalty - 1),
         "columns_relative": _rel(bypassed, reference)}))
    return checks


# ------------------------------------------------------------------ 2. pipeline
def _run(args: Sequence[str], **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(args, capture_output=True, text=True, timeout=900, **kwargs)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:4])} ... exited {done.returncode}: "
                           f"{done.stderr[-2000:]}")
    return done


def _run_dir(out: Path) -> Path:
    (run,) = (out / layout.TRAINED_MODELS_DIR).glob("*/*")
    return run


def _checkpoint(out: Path) -> dict:
    # No map_location: a checkpoint holds CPU tensors whatever device wrote it.
    return torch.load(layout.checkpoint_path(_run_dir(out)), weights_only=True)


def _checkpoint_step(out: Path) -> int:
    try:
        return int(_checkpoint(out)["step"])
    except (ValueError, FileNotFoundError, RuntimeError, EOFError):  # none yet, or mid-write
        return -1


def train(out: Path, device: str, num_batches: int, *extra: str) -> None:
    _run([*TRAIN, *RUN_FLAGS, "--device", device, "--num-batches", str(num_batches),
          "--output-dir", str(out), *extra])


def train_interrupted(out: Path, device: str, num_batches: int, *extra: str) -> Check:
    """SIGTERM after the second checkpoint, then the same command again."""
    proc = subprocess.Popen([*TRAIN, *RUN_FLAGS, "--device", device, "--num-batches",
                             str(num_batches), "--output-dir", str(out), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 600
    while _checkpoint_step(out) < 4 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=600)
    stopped_at = _checkpoint_step(out)
    interrupted = proc.returncode == EXIT_SIGTERM and 4 <= stopped_at < num_batches
    train(out, device, num_batches, *extra)
    finished = _checkpoint_step(out) == num_batches and layout.done_path(_run_dir(out)).exists()
    return _check("pipeline: SIGTERM, then resume", interrupted and finished,
                  f"exit {proc.returncode} at checkpoint {stopped_at}, resumed to "
                  f"{_checkpoint_step(out)}/{num_batches}"
                  + ("" if interrupted else f"; stderr: {stderr.strip()[-300:]}"),
                  stopped_at=stopped_at)


def max_weight_difference(a: dict, b: dict) -> float:
    return max(float((a["model"][name].float() - b["model"][name].float()).abs().max())
               for name in a["model"])


def logged_losses(out: Path) -> list[float]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(layout.log_dir_of_run(_run_dir(out))))
    events.Reload()
    return [event.value for event in events.Scalars("ELBO/train")]


def codes_on(device: torch.device, run: Path, images: torch.Tensor) -> dict[str, np.ndarray]:
    """Mean codes (N, d) of ``images`` from the saved model and from the TorchScript file."""
    saved = layout.find_saved_model(run)
    if saved is None:
        raise FileNotFoundError(f"no saved model in {run}")
    with torch.no_grad():
        model = load_model(saved, device)
        script = load_torchscript(layout.torchscript_path(run), device)
        batch = images.to(device)
        return {"saved model": model.encode(batch)[0].cpu().numpy(),
                "TorchScript": script(batch).cpu().numpy()}


def evaluated_score(run: Path, device: str) -> float:
    _run([*EVALUATE, str(run), "--metrics", METRIC, "--device", device, "--overwrite"])
    aggregate = layout.read_json_object(layout.evaluation_path(run, METRIC))
    return float(aggregate["evaluation_results.discrete_mig"])


def check_pipeline(device: torch.device, workdir: Path, num_batches: int) -> list[Check]:
    dev = str(device)
    resumed, straight, cpu = workdir / "resumed", workdir / "straight", workdir / "cpu"
    checks = [train_interrupted(resumed, dev, num_batches, "--deterministic")]
    train(straight, dev, num_batches, "--deterministic")
    train(cpu, "cpu", num_batches)

    # Bit for bit: on the CPU always, on CUDA because of --deterministic.
    difference = max_weight_difference(_checkpoint(resumed), _checkpoint(straight))
    checks.append(_check("pipeline: resumed = uninterrupted, --deterministic (weights)",
                         difference == 0, f"max |Δ| {difference:.3g} (allowed 0)",
                         max_abs_difference=difference))

    device_losses, cpu_losses = logged_losses(straight), logged_losses(cpu)
    worst = max(abs(a - b) / abs(b) for a, b in zip(device_losses, cpu_losses, strict=True))
    checks.append(_check(f"pipeline: {dev} losses track the CPU's", worst <= LOSS_RTOL,
                         f"worst relative difference {worst:.3g} over {len(cpu_losses)} "
                         f"batches (allowed {LOSS_RTOL:g})", worst_relative=worst))

    run = _run_dir(resumed)
    images = torch.rand(64, 1, 64, 64, generator=torch.Generator().manual_seed(0))
    on_device = codes_on(device, run, images)
    on_cpu = codes_on(torch.device("cpu"), run, images)
    for source, codes in on_device.items():
        gap = float(np.abs(codes - on_cpu[source]).max())
        checks.append(_check(f"pipeline: {source} codes on {dev} = on the CPU",
                             gap <= CODES_ATOL, f"max |Δ| {gap:.3g} (allowed {CODES_ATOL:g})",
                             max_abs_difference=gap))

    device_score, cpu_score = evaluated_score(run, dev), evaluated_score(run, "cpu")
    checks.append(_check(f"pipeline: {METRIC} on {dev} = on the CPU",
                         abs(device_score - cpu_score) <= METRIC_ATOL,
                         f"{device_score:.4f} vs {cpu_score:.4f} (allowed ±{METRIC_ATOL:g})",
                         device=device_score, cpu=cpu_score))
    return checks


# ------------------------------------------------------------------ configurations
def paper_config(device: torch.device, dataset: str, batch_size: int, out: Path,
                 **changes: Any) -> TrainConfig:
    from jlonevae_lib.train.config import TrainConfig

    settings = dict(dataset=dataset, beta=4.0, gamma=0.1, batch_size=batch_size,
                    num_batches=PAPER_BATCHES, lr=1e-4, annealing_batches=100_000,
                    device=str(device), output_dir=str(out), log_interval=100)
    settings.update(changes)
    return TrainConfig(**settings)


def variant_configs(device: torch.device, dataset: str, batch_size: int, out: Path) -> dict:
    """The paper's JL1-VAE, its β-VAE baseline (γ = 0) and disentanglement_lib's six methods
    (the study's settings at hyperparameter index 2, on our dataset and batch size)."""
    from jlonevae_lib.train.baselines import method_settings
    from jlonevae_lib.train.config import TrainConfig

    configs = {"JL1-VAE (paper)": paper_config(device, dataset, batch_size, out),
               "beta-VAE (gamma 0)": paper_config(device, dataset, batch_size, out, gamma=0.0)}
    for method in ("beta_vae", "annealed_vae", "factor_vae", "dip_vae_i", "dip_vae_ii",
                   "beta_tc_vae"):
        settings = {**method_settings(method, 2, 0), "dataset": dataset,
                    "batch_size": batch_size, "device": str(device), "output_dir": str(out),
                    "log_interval": 100}
        configs[method] = TrainConfig(**settings)
    return configs


# ------------------------------------------------------------------ 3. host syncs
def check_host_syncs(device: torch.device, dataset: str, batch_size: int, out: Path,
                     steps: int) -> list[Check]:
    if device.type != "cuda":
        return [Check("host syncs: none between log steps", "SKIP",
                      "needs CUDA (tests/train/test_device_policy.py checks the deferred "
                      "policy's logic on the CPU)")]
    from jlonevae_lib.train.trainer import Trainer

    checks = []
    configs = variant_configs(device, dataset, batch_size, out)
    for name in ("JL1-VAE (paper)", "factor_vae"):
        trainer = Trainer(configs[name])
        try:
            for _ in range(3):  # first steps: Adam's state, allocator warm-up
                trainer.training_step()
            trainer.check_finite()
            torch.cuda.synchronize(device)
            torch.cuda.set_sync_debug_mode("error")
            try:
                for _ in range(steps):
                    trainer.training_step()
            finally:
                torch.cuda.set_sync_debug_mode("default")
            trainer.check_finite()  # a log step: the one read, outside the checked steps
            checks.append(_check(f"host syncs: none between log steps ({name})", True,
                                 f"{steps} steps under set_sync_debug_mode('error')"))
        except Exception as err:  # noqa: BLE001 (a sync is a RuntimeError; report any)
            checks.append(_failed(f"host syncs: none between log steps ({name})", err))
    return checks


# ------------------------------------------------------------------ 4. throughput
def _time_steps(step: Callable[[], object], device: torch.device, warmup: int,
                steps: int) -> float:
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda *_: None)
    for _ in range(warmup):
        step()
    sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    sync(device)
    return (time.perf_counter() - start) / steps


def check_throughput(device: torch.device, dataset: str, batch_size: int, out: Path,
                     warmup: int, steps: int) -> list[Check]:
    from jlonevae_lib.train.trainer import Trainer

    checks = []
    for name, config in variant_configs(device, dataset, batch_size, out).items():
        trainer = Trainer(config)
        seconds = _time_steps(trainer.training_step, device, warmup, steps)
        trainer.check_finite()
        minutes = PAPER_BATCHES * seconds / 60
        checks.append(Check(f"throughput: {name}", "INFO",
                            f"{1 / seconds:.1f} batches/s ({1e3 * seconds:.2f} ms/batch); "
                            f"300,000 batches: {minutes:.1f} min",
                            {"batches_per_s": 1 / seconds, "projected_minutes": minutes,
                             "batch_size": batch_size, "architecture": config.architecture}))
    paper = checks[0].values["projected_minutes"]
    if device.type == "cuda":
        verdict = "met" if paper <= GOAL_MINUTES else "not met"
        checks.append(Check("throughput: issue 5's goal (paper run <= 15 min on one H100)",
                            "INFO", f"{paper:.1f} min: {verdict} on "
                            f"{torch.cuda.get_device_name(device)}", {"minutes": paper}))
    return checks


# ------------------------------------------------------------------ 5. bf16
def bf16_configs(device: torch.device, dataset: str, batch_size: int, out: Path,
                 steps: int) -> dict:
    """Part 5's two float32 runs (bf16's are the same with ``precision="bf16"``): β-VAE on
    dlibConv (disentanglement_lib's setting 2) and the paper's JL1-VAE (defaultConv, FD penalty
    on the whole batch) with β and γ at full strength from the first batch, so that the penalty
    weighs in the few hundred batches compared (the paper ramps them over 100,000)."""
    from jlonevae_lib.train.baselines import method_settings
    from jlonevae_lib.train.config import TrainConfig

    beta_vae = TrainConfig(**{**method_settings("beta_vae", 2, 0), "dataset": dataset,
                              "batch_size": batch_size, "device": str(device),
                              "output_dir": str(out / "beta_vae"), "num_batches": steps})
    jl1 = paper_config(device, dataset, batch_size, out / "jl1", num_batches=steps,
                       annealing_batches=0)
    return {"beta_vae (dlibConv)": beta_vae, "JL1-VAE (defaultConv, FD penalty)": jl1}


@dataclass
class _Arm:
    """One run of a float32/bf16 pair: its trainer, its own state of torch's global
    generators (the model's noise; the two runs share the process's), each timed block's
    seconds per step and every batch's loss (on the device: read once, at the end)."""

    trainer: Any
    rng: tuple[torch.Tensor, torch.Tensor | None]
    block_seconds: list[float] = field(default_factory=list)
    losses: list[torch.Tensor] = field(default_factory=list)


def _rng_state(device: torch.device) -> tuple[torch.Tensor, torch.Tensor | None]:
    return (torch.get_rng_state(),
            torch.cuda.get_rng_state(device) if device.type == "cuda" else None)


def _set_rng_state(device: torch.device, state: tuple[torch.Tensor, torch.Tensor | None]
                   ) -> None:
    torch.set_rng_state(state[0])
    if state[1] is not None:
        torch.cuda.set_rng_state(state[1], device)


def train_pair(config: TrainConfig, device: torch.device, steps: int, block: int
               ) -> dict[str, _Arm]:
    """``config`` trained ``steps`` batches in float32 and in bf16 from its seed (each trainer
    seeds torch's generators: the same initial weights and noise stream), in blocks of
    ``block`` batches taking turns, the order flipping every block, so that a shared machine's
    noise hits both alike; under the run's numerics (``training_numerics``: IEEE float32 on
    CUDA, as ``jlonevae-train`` trains)."""
    from jlonevae_lib.train.trainer import Trainer, training_numerics

    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda *_: None)
    arms = {}
    for precision in ("float32", "bf16"):
        trainer = Trainer(replace(config, precision=precision,
                                  output_dir=str(Path(config.output_dir) / precision)))
        arms[precision] = _Arm(trainer, _rng_state(device))
    order = list(arms)
    for _ in range(steps // block):
        for arm in (arms[name] for name in order):
            _set_rng_state(device, arm.rng)
            with training_numerics(arm.trainer.config, device):
                sync(device)
                start = time.perf_counter()
                for _ in range(block):
                    arm.losses.append(arm.trainer.training_step().total.detach())
                sync(device)
            arm.block_seconds.append((time.perf_counter() - start) / block)
            arm.rng = _rng_state(device)
        order.reverse()
    for arm in arms.values():
        arm.trainer.check_finite()  # deferred on CUDA: one read per run
    return arms


def _ms_per_step(arm: _Arm) -> float:
    """The median over blocks, the first left out where there are others."""
    timed = arm.block_seconds[1:] or arm.block_seconds
    return 1e3 * float(np.median(timed))


def penalty_in_bf16_run(trainer: Trainer, device: torch.device) -> dict[str, Any]:
    """The JL1 penalty (γ = 1) and its gradient on the decoder's weights, at the latents the bf16
    run's encoder gives for its next batch, computed as a bf16 step computes it (under bfloat16
    autocast) and in float32 (no autocast), for the same weights and latents."""
    from jlonevae_lib.train.objectives.jacobian_vae import float32_forward
    from jlonevae_lib.train.objectives.penalty import backpropagate_penalty
    from jlonevae_lib.train.trainer import training_numerics

    model, config = trainer.model, trainer.config
    x = trainer.next_batch()
    with torch.no_grad(), autocast_to("bf16", device.type):
        _, _, _, z = float32_forward(model, x)  # float32 latents of a bfloat16 forward
        autocast_on = model.decode(z).dtype == torch.bfloat16
    results = {}
    previous = torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark
    # On CUDA the same kernels both times (a float32 sum's order varies otherwise).
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    try:
        with training_numerics(config, device):
            for precision in ("bf16", "float32"):
                model.zero_grad(set_to_none=True)
                generator = torch.Generator(device=device).manual_seed(0)  # same sub-batch
                with autocast_to(precision, device.type):
                    value = backpropagate_penalty(model, z, 1.0, config, generator,
                                                  trainer.objective.chunk_size)
                grads = [p.grad.detach().clone() for p in model.parameters()
                         if p.grad is not None]
                results[precision] = (value.detach().clone(), grads)
    finally:
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = previous
        model.zero_grad(set_to_none=True)
    (mixed, mixed_grads), (plain, plain_grads) = results["bf16"], results["float32"]
    identical = (mixed.dtype == plain.dtype == torch.float32 and torch.equal(mixed, plain)
                 and len(mixed_grads) == len(plain_grads) > 0
                 and all(torch.equal(a, b) for a, b in zip(mixed_grads, plain_grads,
                                                            strict=True)))
    return {"bf16": float(mixed), "float32": float(plain), "autocast_on": autocast_on,
            "relative": abs(float(mixed) / float(plain) - 1),
            "gradient_relative": _rel(torch.cat([g.flatten() for g in mixed_grads]),
                                      torch.cat([g.flatten() for g in plain_grads])),
            "bit_identical": identical, "penalty_dtype": str(mixed.dtype).split(".")[-1],
            "latents": int(z.shape[0])}


def _bf16_support(device: torch.device, figures: dict[str, Any]) -> Check:
    """``check_autocast_support("bf16", device)``: PASS where it accepts. A refusal FAILs on
    the CPU and on an Ampere or later GPU (native bf16: a refusal there is a bug) with its
    one-line message as the reason; on an older GPU the refusal is the documented behaviour
    (no bf16 autocast there), so SKIP with the message, and the part's runs are skipped."""
    name = f"bf16: autocast support on {device}"
    if device.type == "cuda":
        capability = torch.cuda.get_device_capability(device)
        native = capability >= (8, 0)
        where = (f"{torch.cuda.get_device_name(device)}, compute capability "
                 f"{capability[0]}.{capability[1]}: "
                 + ("native bf16" if native else "before Ampere, PyTorch emulates bf16"))
        figures["compute_capability"] = list(capability)
    else:
        flags = present_cpu_flags(("avx512_bf16", "amx_bf16"))
        native = bool(flags)
        where = ("CPU with " + ", ".join(flags) if flags
                 else "CPU without bf16 instructions: PyTorch emulates bf16")
    figures["native"] = native
    try:
        check_autocast_support("bf16", device)
    except JLoneVAEError as err:
        figures["supported"] = False
        status = "SKIP" if device.type == "cuda" and not native else "FAIL"
        return Check(name, status, f"refused ({where}): {err}", {"accepted": False})
    figures["supported"] = True
    return _check(name, True, f"accepted ({where})", accepted=True)


def _bf16_run_checks(run: str, arms: dict[str, _Arm], dev: str, batch_size: int, steps: int,
                     block: int, tail: int, gated: bool, figures: dict[str, Any]
                     ) -> list[Check]:
    """One run's lines: ms/step and speed-up (INFO), the speed gate where ``gated``, the final
    loss's agreement."""
    ms = {precision: _ms_per_step(arm) for precision, arm in arms.items()}
    speedup = ms["float32"] / ms["bf16"]
    final = {precision: float(torch.stack(arm.losses[-tail:]).double().mean())
             for precision, arm in arms.items()}
    relative = abs(final["bf16"] / final["float32"] - 1)
    figures["runs"][run] = {"ms_per_step": ms, "speedup": speedup, "final_loss": final,
                            "loss_relative": relative}
    checks = [Check(
        f"bf16: {run} speed on {dev}", "INFO",
        f"float32 {ms['float32']:.2f} ms/step, bf16 {ms['bf16']:.2f}: {speedup:.2f}x "
        f"(median of {steps // block - 1} blocks of {block}, batch {batch_size})",
        {"ms_per_step": ms, "speedup": speedup})]
    if gated:
        checks.append(_check(
            f"bf16: {run} no slower than float32 x {BF16_SLOWDOWN:g}",
            ms["bf16"] <= BF16_SLOWDOWN * ms["float32"],
            f"bf16 {ms['bf16']:.2f} ms/step vs float32 {ms['float32']:.2f} "
            f"(allowed {BF16_SLOWDOWN * ms['float32']:.2f})", speedup=speedup))
    checks.append(_check(
        f"bf16: {run} final loss = float32's", relative <= BF16_LOSS_RTOL,
        f"mean of the last {tail} of {steps} batches: bf16 {final['bf16']:.4f}, float32 "
        f"{final['float32']:.4f} (relative {relative:.2e}, allowed {BF16_LOSS_RTOL:g})",
        final_loss=final, relative=relative))
    return checks


def _penalty_check(trainer, device: torch.device, figures: dict[str, Any]) -> Check:
    """The JL1 penalty in the bf16 run against float32's: bit for bit on the CPU (as
    tests/train/test_mixed_precision.py has it); on CUDA within the precision part's
    ``PENALTY_RTOL``: both go through the same IEEE float32 kernels, but a GPU need not sum in
    the same order twice, and what this line is for, bfloat16 reaching the penalty, puts its
    2⁻⁹ rounding divided by ε = 1e-3 into it, far beyond 2e-3."""
    tolerance = 0.0 if device.type == "cpu" else PENALTY_RTOL
    penalty = penalty_in_bf16_run(trainer, device)
    figures["penalty"] = {**penalty, "tolerance": tolerance}
    ok = (penalty["autocast_on"] and penalty["penalty_dtype"] == "float32"
          and (penalty["bit_identical"] if tolerance == 0 else
               max(penalty["relative"], penalty["gradient_relative"]) <= tolerance))
    return _check(
        BF16_PENALTY_LINE, ok,
        f"{penalty['latents']} latents of the bf16 run on {device}: penalty "
        f"{penalty['bf16']:.6g} vs {penalty['float32']:.6g}, "
        + ("bit for bit" if penalty["bit_identical"] else
           f"relative {penalty['relative']:.2e}, gradient {penalty['gradient_relative']:.2e}")
        + f" (allowed {'0: bit for bit' if tolerance == 0 else f'{tolerance:g}'})"
        + ("" if penalty["autocast_on"] else "; autocast was NOT on: nothing compared"),
        **{k: penalty[k] for k in ("relative", "gradient_relative", "bit_identical")})


def check_bf16(device: torch.device, dataset: str, batch_size: int, out: Path, quick: bool,
               figures: dict[str, Any]) -> list[Check]:
    """Part 5; ``figures`` receives the JSON record's ``bf16`` entry. Each run's crash fails
    that run's line and the part goes on (bf16 has never run on CUDA before this check)."""
    dev = str(device)
    steps, block, tail = ((BF16_QUICK_STEPS, BF16_QUICK_BLOCK, BF16_QUICK_TAIL) if quick
                          else (BF16_STEPS, BF16_BLOCK, BF16_LOSS_TAIL))
    figures.update(device=dev, dataset=dataset, batch_size=batch_size, steps=steps,
                   block=block, loss_tail=tail, loss_rtol=BF16_LOSS_RTOL, runs={})
    checks = [_bf16_support(device, figures)]
    if not figures["supported"]:
        return [*checks, Check("bf16: float32 and bf16 runs", "SKIP",
                               "bf16 is refused on this device (line above)")]
    # The speed gate: CUDA, native bf16, the paper's batch (see BF16_SLOWDOWN).
    gated = device.type == "cuda" and figures["native"] and not quick
    jl1_trainer = None
    for run, config in bf16_configs(device, dataset, batch_size, out / "bf16",
                                    steps).items():
        try:
            arms = train_pair(config, device, steps, block)
        except Exception as err:  # noqa: BLE001 (one run's crash fails its line)
            checks.append(_failed(f"bf16: {run} trains in float32 and bf16", err))
            figures["runs"][run] = {"error": checks[-1].detail}
            continue
        checks += _bf16_run_checks(run, arms, dev, batch_size, steps, block, tail, gated,
                                   figures)
        if config.objective == "jlonevae":
            jl1_trainer = arms["bf16"].trainer
    if not gated:
        checks.append(Check(f"bf16: no slower than float32 x {BF16_SLOWDOWN:g}", "SKIP",
                            "needs CUDA, an Ampere or later GPU and full sizes (timings "
                            "above are INFO)"))
    if jl1_trainer is None:
        checks.append(Check(BF16_PENALTY_LINE, "SKIP", "no JL1-VAE bf16 run (line above)"))
    else:
        try:
            checks.append(_penalty_check(jl1_trainer, device, figures))
        except Exception as err:  # noqa: BLE001
            checks.append(_failed(BF16_PENALTY_LINE, err))
    return checks


# ------------------------------------------------------------------ 6. members per GPU
def worker(args: argparse.Namespace) -> int:
    """One member's steady-state batches/s (the paper's configuration), timed after the
    parent's go signal so that concurrent members are timed over the same window."""
    from jlonevae_lib.train.trainer import Trainer

    device = pick_device(args.device)
    out = Path(args.worker_dir)
    trainer = Trainer(paper_config(device, args.dataset, args.batch_size,
                                   out / f"member{args.worker_index}"))
    for _ in range(args.warmup):
        trainer.training_step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    (out / f"ready{args.worker_index}").touch()
    while not (out / "go").exists():
        time.sleep(0.01)
    seconds = _time_steps(trainer.training_step, device, 0, args.steps)
    trainer.check_finite()
    memory = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else 0
    print(json.dumps({"batches_per_s": 1 / seconds, "max_memory_allocated": memory}))
    return 0


def _members(count: int, device: torch.device, dataset: str, batch_size: int, workdir: Path,
             warmup: int, steps: int) -> list[dict]:
    folder = Path(tempfile.mkdtemp(dir=workdir, prefix=f"members{count}_"))
    threads = str(max(1, (os.cpu_count() or 1) // count))
    env = {**os.environ, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
    procs = [subprocess.Popen(
        [sys.executable, str(HERE), "--worker", "--device", str(device), "--dataset", dataset,
         "--batch-size", str(batch_size), "--worker-dir", str(folder), "--worker-index",
         str(k), "--warmup", str(warmup), "--steps", str(steps)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for k in range(count)]
    deadline = time.monotonic() + 300
    while (sum((folder / f"ready{k}").exists() for k in range(count)) < count
           and all(p.poll() is None for p in procs) and time.monotonic() < deadline):
        time.sleep(0.05)
    (folder / "go").touch()
    results = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=600)
        if proc.returncode != 0:
            raise RuntimeError(f"a member exited {proc.returncode}: {stderr.strip()[-400:]}")
        results.append(json.loads(stdout.strip().splitlines()[-1]))
    return results


def check_members(device: torch.device, dataset: str, batch_size: int, workdir: Path,
                  warmup: int, steps: int) -> list[Check]:
    if device.type != "cuda":
        return [Check(f"members per GPU: {MEMBERS} at once vs 1", "SKIP", "needs CUDA")]
    name = f"members per GPU: {MEMBERS} at once vs 1"
    try:
        # The training cache, built once here rather than by every member at once.
        from jlonevae_lib.data import get_named_ground_truth_data

        get_named_ground_truth_data(dataset).sample_training_batch(1, np.random.default_rng(0))
        (alone,) = _members(1, device, dataset, batch_size, workdir, warmup, steps)
        together = _members(MEMBERS, device, dataset, batch_size, workdir, warmup, steps)
    except Exception as err:  # noqa: BLE001 (an out-of-memory member, say)
        return [_failed(name, err)]
    rates = [r["batches_per_s"] for r in together]
    total = sum(rates)
    memory = max(r["max_memory_allocated"] for r in together) / 2**30
    return [
        _check(name, True, f"1 alone {alone['batches_per_s']:.1f} batches/s; {MEMBERS} at once "
               f"{' + '.join(f'{r:.1f}' for r in rates)} = {total:.1f} batches/s "
               f"({total / alone['batches_per_s']:.2f}x the GPU's output); each member "
               f"allocated at most {memory:.2f} GiB",
               alone=alone["batches_per_s"], together=rates, total=total,
               max_memory_gib=memory),
        Check("members per GPU: projected study time", "INFO",
              f"a 300,000-batch member takes {PAPER_BATCHES / min(rates) / 60:.1f} min with "
              f"{MEMBERS} sharing the GPU ({PAPER_BATCHES / alone['batches_per_s'] / 60:.1f} "
              "alone)", {}),
    ]


# ------------------------------------------------------------------ report
def report(checks: Sequence[Check]) -> str:
    return "\n".join(f"{c.status:<4}  {c.name}: {c.detail}" for c in checks)


def _environment(device: torch.device) -> dict[str, Any]:
    info = {"device": str(device), "torch": torch.__version__,
            "python": platform.python_version(), "machine": platform.machine()}
    if device.type == "cuda":
        info.update(gpu=torch.cuda.get_device_name(device), cuda=torch.version.cuda,
                    cudnn=torch.backends.cudnn.version())
    return info


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", help="auto (default), cuda, cuda:N or cpu")
    parser.add_argument("--quick", action="store_true",
                        help="tiny runs and few steps (CI, on the CPU: seconds per part)")
    parser.add_argument("--json", default="cuda_pipeline_check.json",
                        help="where the JSON record goes (default: ./cuda_pipeline_check.json)")
    parser.add_argument("--parts", nargs="+", default=None,
                        choices=["precision", "pipeline", "syncs", "throughput", "bf16",
                                 "members"],
                        help="only these parts (default: all)")
    # The members' worker processes (part 5): not for direct use.
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--worker-dir", help=argparse.SUPPRESS)
    parser.add_argument("--worker-index", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--dataset", default="threeDotsCacheSmall", help=argparse.SUPPRESS)
    parser.add_argument("--batch-size", type=int, default=64, help=argparse.SUPPRESS)
    parser.add_argument("--warmup", type=int, default=20, help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, default=200, help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    if args.worker:
        return worker(args)
    started = time.perf_counter()
    device = pick_device(args.device)
    parts = args.parts or ["precision", "pipeline", "syncs", "throughput", "bf16", "members"]
    quick = args.quick
    num_batches = 12 if quick else 40
    # Timed parts: the paper's batch of 64 on the 20,000-image cache; --quick: batch 8 on
    # procedural three-dots, one step each (checks that the code runs, measures nothing).
    dataset, batch_size = ("threeDots", 8) if quick else ("threeDotsCacheSmall", 64)
    warmup, steps, sync_steps = (0, 1, 2) if quick else (20, 200, 20)
    print(f"device check on {device}" + (f" ({torch.cuda.get_device_name(device)})"
                                         if device.type == "cuda" else " (no CUDA here)")
          + f"; torch {torch.__version__}; parts: {' '.join(parts)}", flush=True)
    checks: list[Check] = []
    timings: dict[str, float] = {}
    bf16_figures: dict[str, Any] = {}
    # The cache goes to $DISENTANGLEMENT_LIB_DATA if set (reused), else it is built once in the
    # temporary folder and shared by the members.
    with tempfile.TemporaryDirectory() as tmp, \
            environ_default(DATA_ROOT_ENV, str(Path(tmp) / "data")):
        workdir = Path(tmp)
        steps_by_part: dict[str, Callable[[], list[Check]]] = {
            "precision": lambda: check_precision(device),
            "pipeline": lambda: check_pipeline(device, workdir, num_batches),
            "syncs": lambda: check_host_syncs(device, dataset, batch_size, workdir,
                                              sync_steps),
            "throughput": lambda: check_throughput(device, dataset, batch_size, workdir,
                                                   warmup, steps),
            "bf16": lambda: check_bf16(device, dataset, batch_size, workdir, quick,
                                       bf16_figures),
            "members": lambda: check_members(device, dataset, batch_size, workdir,
                                             warmup, steps),
        }
        for part in parts:
            part_start = time.perf_counter()
            try:
                new = steps_by_part[part]()
            except Exception as err:  # noqa: BLE001 (one part's crash fails that part)
                new = [_failed(f"{part}: ran", err)]
            timings[part] = round(time.perf_counter() - part_start, 1)
            print(report(new), flush=True)
            checks.extend(new)
    if device.type != "cuda":
        print("note: no GPU here: the CUDA parts printed SKIP and the others ran on the CPU")
    failed = [c for c in checks if not c.passed]
    total = round(time.perf_counter() - started, 1)
    print(f"{'FAIL' if failed else 'PASS'}  device check: {len(failed)} of "
          f"{sum(c.status in ('PASS', 'FAIL') for c in checks)} checks failed, "
          f"{total:.0f} s ({', '.join(f'{k} {v:.0f} s' for k, v in timings.items())})")
    record = {"environment": _environment(device), "quick": quick, "seconds": total,
              "part_seconds": timings, "passed": not failed,
              "checks": [asdict(c) for c in checks]}
    if "bf16" in parts:
        record["bf16"] = bf16_figures
    Path(args.json).write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {args.json}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
