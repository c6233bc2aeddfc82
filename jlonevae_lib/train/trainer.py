"""The training loop: data → model → objective → Adam, with checkpoints that resume exactly.

Every random choice flows from ``config.seed`` through three independent streams (model
initialisation and the reparameterisation noise on torch's global generator, the training-batch
order on a numpy PCG64 generator, the objective's own draws — the JL1 penalty's sub-batches — on
a torch generator). A checkpoint holds the model, the optimiser, the step, the objective's state
(auxiliary modules and optimisers, :mod:`jlonevae_lib.train.objectives`) and all three streams,
so a run that is killed and resumed ends with the same weights as one that never stopped (on
the CPU always; on CUDA with ``deterministic``, on the same GPU model and software: docs/gpu.md).

On CUDA (:class:`DevicePolicy`) a training step never makes the host wait for the device: the
finiteness checks are deferred to log steps and checkpoints, random permutations are drawn on the
device from a generator there (saved in checkpoints), and batches travel from pinned memory,
asynchronously. Every tensor a checkpoint or saved model holds is a CPU tensor, so files written
on a GPU load anywhere.

A bf16 run (``config.precision``) computes the objective's loss under bfloat16 autocast; the
Jacobian penalty's decoder calls inside it stay IEEE float32, and parameters, gradients,
optimiser states and checkpoints are float32 as in any run (docs/training.md, "Mixed precision").

Run folder (``config.run_dir``)::

    config.json                     the TrainConfig that rebuilds the run
    checkpoints/checkpoint.pt       latest checkpoint (atomic replace)
    representation/cache_batch_no<N>/   saved model (reference format, docs/formats.md)
    representation/pytorch_model.pt     TorchScript mean encoder (AIcrowd layout)
    representation/results/
    DONE / FAILED                   JSON status written when the run ends
"""

from __future__ import annotations

import dataclasses
import os
import platform
import shutil
import signal
import sys
import time
import warnings
from collections.abc import Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import torch
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from jlonevae_lib.architecture.export import export_torchscript
from jlonevae_lib.architecture.registry import build_architecture
from jlonevae_lib.architecture.save_model import SAVED_MODEL_FILES, save_model, saved_model_type
from jlonevae_lib.data import get_named_ground_truth_data
from jlonevae_lib.runs import layout
from jlonevae_lib.train.config import TrainConfig, place_run, recorded_config
from jlonevae_lib.train.objectives import (
    FiniteGuard,
    NonFiniteError,
    StepTerms,
    objective_class,
)
from jlonevae_lib.utils.atomic import atomic_torch_save, atomic_write_json, remove_temporaries
from jlonevae_lib.utils.device import cpu_tensors, pick_device
from jlonevae_lib.utils.errors import DataFileError, JLoneVAEError, short_reason
from jlonevae_lib.utils.exit_status import EXIT_DIVERGED
from jlonevae_lib.utils.lock import FolderLock, lock_holder, remove_if_empty
from jlonevae_lib.utils.precision import autocast_to, check_autocast_support, float32_precision

CHECKPOINT_FORMAT = 1
#: Adam's fused implementation (see :func:`build_adam`).
ADAM_FUSED = True
#: The cuBLAS setting deterministic CUDA training needs (NVIDIA's documented values), read by
#: cuBLAS when CUDA starts: ``jlonevae-train --deterministic`` sets it in its environment.
CUBLAS_WORKSPACE_ENV = "CUBLAS_WORKSPACE_CONFIG"
CUBLAS_DETERMINISTIC_VALUES = (":4096:8", ":16:8")


class TrainingDivergedError(JLoneVAEError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""

    exit_code = EXIT_DIVERGED  # a failed run, as opposed to bad input


class TrainingInterrupted(JLoneVAEError):
    """SIGTERM/SIGINT arrived; a checkpoint was written so the run can be resumed. The exit
    status is a shell's for that signal (128 + its number: 143 for SIGTERM, what schedulers
    expect of a terminated job; 130 for Ctrl-C)."""

    def __init__(self, message: str, signum: int = signal.SIGTERM) -> None:
        super().__init__(message)
        self.exit_code = 128 + int(signum)


@dataclass(frozen=True)
class DevicePolicy:
    """How a training step works with its device; :meth:`for_device` picks it.

    On the CPU a read of a tensor's value costs nothing, so checks are immediate (a NaN stops
    the step before it touches the weights) and batches go straight from numpy. On CUDA every
    read makes the host wait for the GPU to finish all queued work, which stalls a small
    network's step on launch latency; so there:

    - ``defer_finite_checks``: the objective's and the loss's finiteness flags are AND-ed on
      the device (:class:`~jlonevae_lib.train.objectives.FiniteGuard`) and read at log steps and
      before every checkpoint. A NaN then stops the run up to ``log_interval`` batches after it
      appeared, possibly having reached the weights in memory, but never a file: the check runs
      before each save, so the checkpoint on disk is the last good one.
    - ``pinned_batches``: the batch is drawn in the dataset's compact form (the three-dots
      cache's uint8 levels), copied from pinned memory asynchronously and expanded to float32 on
      the device (the same IEEE products as on the host).

    Tests force a policy on the CPU to check the CUDA path's logic.
    """

    defer_finite_checks: bool = False
    pinned_batches: bool = False

    @classmethod
    def for_device(cls, device: torch.device) -> DevicePolicy:
        cuda = device.type == "cuda"
        return cls(defer_finite_checks=cuda, pinned_batches=cuda)

    def describe(self) -> str:
        return "deferred" if self.defer_finite_checks else "immediate"


def check_deterministic_environment(config: TrainConfig, device: torch.device,
                                    environ: Mapping[str, str] = os.environ) -> None:
    """Refuse ``deterministic`` on CUDA without ``CUBLAS_WORKSPACE_CONFIG`` (:4096:8 or :16:8).

    cuBLAS reads the variable once, when CUDA starts in the process, so setting it here would
    be too late to be sure; the command line sets it before anything touches CUDA, and a
    program using the library must do the same.
    """
    if not config.deterministic or device.type != "cuda":
        return
    value = environ.get(CUBLAS_WORKSPACE_ENV)
    if value not in CUBLAS_DETERMINISTIC_VALUES:
        raise JLoneVAEError(
            f"deterministic training on CUDA needs {CUBLAS_WORKSPACE_ENV}=:4096:8 in the "
            f"environment before CUDA starts (it is {value!r}); jlonevae-train --deterministic "
            "sets it, a program of your own must set it before its first CUDA call")


@contextmanager
def training_numerics(config: TrainConfig, device: torch.device) -> Iterator[None]:
    """The run's numeric settings for the block, restored afterwards.

    On CUDA, TF32 as ``config.allow_tf32`` says (the Jacobian overrides it to IEEE float32 for
    itself); on the CPU nothing, since those switches choose no CPU kernel. With
    ``config.deterministic``: ``torch.use_deterministic_algorithms(True)`` and no cuDNN
    autotuning (its choice of kernel depends on timing). Restored so that a process training
    several runs, or a test, is left as it was.
    """
    with ExitStack() as stack:
        if device.type == "cuda":
            stack.enter_context(float32_precision(tf32=config.allow_tf32))
        if config.deterministic:
            previous = (torch.are_deterministic_algorithms_enabled(),
                        torch.is_deterministic_algorithms_warn_only_enabled(),
                        torch.backends.cudnn.benchmark)

            def restore() -> None:
                torch.use_deterministic_algorithms(previous[0], warn_only=previous[1])
                torch.backends.cudnn.benchmark = previous[2]

            stack.callback(restore)
            torch.use_deterministic_algorithms(True)
            torch.backends.cudnn.benchmark = False
        yield


def own_cuda_rng_state(saved: Any, index: int) -> torch.Tensor | None:
    """The generator state of GPU ``index`` in an older checkpoint's ``cuda_rng`` (every visible
    GPU's state, in order), or None when it has none for that GPU (written with fewer GPUs
    visible, or on the CPU): the run then resumes with that generator as it is."""
    if isinstance(saved, list | tuple) and 0 <= index < len(saved):
        state = saved[index]
        return state if isinstance(state, torch.Tensor) else None
    return None


@dataclass
class TrainingResult:
    run_dir: Path
    num_batches: int
    model_dir: Path
    torchscript_path: Path
    final_scalars: dict[str, float]
    skipped: bool = False


def build_adam(parameters: Iterable[torch.nn.Parameter], lr: float) -> torch.optim.Adam:
    """The run's optimiser: Adam with PyTorch's defaults, fused (one kernel over all parameters).

    Fused Adam computes Adam's update in one vectorised pass per tensor instead of a dozen
    tensor-wide operations (``foreach``) or Python-dispatched ones (the default loop): the
    fastest on the CPU and on CUDA. Its rounding differs from the loop's by float32 ulps
    (tests/train/test_fast_paths.py bounds it); it is deterministic, so resumes stay exact.
    Figures: benchmarks/README.md ("The optimiser").
    """
    return torch.optim.Adam(parameters, lr=lr, fused=ADAM_FUSED)


def expand_batch(images: torch.Tensor, scale: np.float32 | None) -> torch.Tensor:
    """A compact batch (``CompactBatch``: images (B, C, H, W) and ``scale``) as float32 images in
    [0, 1] on ``images``' device: the images themselves (float32 already), or their integer
    levels times ``scale``, one IEEE float32 product per pixel, which every device computes to
    the bits of the dataset's own float32 batch."""
    return images if scale is None else images.to(torch.float32).mul_(float(scale))


def _seed_streams(seed: int) -> tuple[int, np.random.Generator, torch.Generator]:
    """(torch init seed, data generator, the objective's generator) from one run seed (the
    JL1 penalty draws its sub-batches from the last)."""
    init_ss, data_ss, objective_ss = np.random.SeedSequence(seed).spawn(3)
    init_seed = int(init_ss.generate_state(1, dtype=np.uint64)[0] >> 1)
    data_rng = np.random.Generator(np.random.PCG64(data_ss))
    objective_gen = torch.Generator()
    objective_gen.manual_seed(int(objective_ss.generate_state(1, dtype=np.uint64)[0] >> 1))
    return init_seed, data_rng, objective_gen


class Trainer:
    """Owns the model, optimiser, data and random streams of one run.

    ``policy``: how steps work with the device (:class:`DevicePolicy`); by default the one for
    the run's device.
    """

    def __init__(self, config: TrainConfig, policy: DevicePolicy | None = None) -> None:
        self.config = config
        self.device = pick_device(config.device)
        self.policy = policy if policy is not None else DevicePolicy.for_device(self.device)
        check_deterministic_environment(config, self.device)
        check_autocast_support(config.precision, self.device)
        self.dataset = get_named_ground_truth_data(config.dataset)
        channels, height, width = self.dataset.image_shape
        init_seed, self.data_rng, self.objective_gen = _seed_streams(config.seed)
        # The objective's per-step draws: on the CPU its own generator (the numbers runs always
        # drew); on CUDA a generator on the GPU seeded alike, so no draw waits for the host.
        self.device_gen = self.objective_gen
        if self.device.type == "cuda":
            self.device_gen = torch.Generator(device=self.device)
            self.device_gen.manual_seed(self.objective_gen.initial_seed())
        torch.manual_seed(init_seed)
        self.model = build_architecture(config.architecture, channels,
                                        config.latent_dim).to(self.device)
        saved_model_type(self.model)  # an architecture the run could not save is refused now
        side = self.model.im_side_len
        if (height, width) != (side, side):
            raise JLoneVAEError(
                f"architecture {config.architecture!r} expects {side}x{side} images but dataset "
                f"{config.dataset!r} has {height}x{width}; pick a matching --architecture"
            )
        self.optimizer = build_adam(self.model.parameters(), config.lr)
        self.objective = objective_class(config.objective)(config, self.device, self.objective_gen)
        self.objective.device_generator = self.device_gen
        self.finite_guard = FiniteGuard(deferred=self.policy.defer_finite_checks)
        self.objective.finite_guard = self.finite_guard
        self.step = 0
        #: Batches known to be finite: every one up to here was checked (deferred checks).
        self.checked_step = 0
        self.stop_requested = False
        #: The signal that asked for the stop (the exit status follows it).
        self.stop_signal: int = signal.SIGTERM
        self.last_scalars: dict[str, float] = {}
        self.train_seconds = 0.0  # summed over sessions, kept in checkpoints
        #: The run folder's lock while train() holds it: refreshed at every checkpoint, so a
        #: lock that stops being refreshed is known to be abandoned.
        self.lock: FolderLock | None = None

    # ---------------------------------------------------------------- checkpoints
    @property
    def checkpoint_path(self) -> Path:
        return layout.checkpoint_path(self.config.run_dir)

    def state_dict(self) -> dict[str, Any]:
        """The checkpoint: CPU tensors only (written on a GPU, it loads anywhere).

        Random streams: the CPU's always; on CUDA also the run's own GPU's default generator
        (``cuda_device_rng``: the model's noise) and the objective's generator there
        (``objective_device_rng``). Only the run's device, never every visible GPU's: a run
        resumes with another GPU index or count, and a CPU run never touches CUDA.
        """
        state = {
            "format": CHECKPOINT_FORMAT,
            "step": self.step,
            "config": self.config.to_dict(),
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "torch_rng": torch.get_rng_state(),
            # Older checkpoints listed every visible GPU's generator here; kept empty so that
            # older code still reads the file.
            "cuda_rng": [],
            "data_rng": self.data_rng.bit_generator.state,
            "objective_rng": self.objective_gen.get_state(),
            "objective": self.objective.state_dict(),
            "last_scalars": self.last_scalars,
            "train_seconds": self.train_seconds,
        }
        if self.device.type == "cuda":
            state["cuda_device_rng"] = torch.cuda.get_rng_state(self.device)
            state["objective_device_rng"] = self.device_gen.get_state()
        return cpu_tensors(state)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("format") != CHECKPOINT_FORMAT:
            raise DataFileError(f"{self.checkpoint_path} has an unknown checkpoint format "
                                f"{state.get('format')!r}; delete it to start the run afresh")
        self.step = int(state["step"])
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        for group in self.optimizer.param_groups:  # checkpoints of foreach or loop Adam
            group["foreach"], group["fused"] = None, ADAM_FUSED
        torch.set_rng_state(state["torch_rng"])
        if self.device.type == "cuda":  # a CPU run reads no GPU state and never starts CUDA
            self._load_cuda_rng(state)
        self.data_rng.bit_generator.state = state["data_rng"]
        # Checkpoints written before issue 24 name it after the JL1 penalty, its first user.
        self.objective_gen.set_state(state["objective_rng"] if "objective_rng" in state
                                     else state["penalty_rng"])
        self.objective.load_state_dict(state.get("objective", {}))  # older checkpoints: none
        self.last_scalars = dict(state["last_scalars"])
        self.train_seconds = float(state["train_seconds"])

    def _load_cuda_rng(self, state: dict[str, Any]) -> None:
        own = state.get("cuda_device_rng")
        if own is None:  # an older checkpoint: every visible GPU's state, or none
            index = (self.device.index if self.device.index is not None
                     else torch.cuda.current_device())
            own = own_cuda_rng_state(state.get("cuda_rng"), index)
        if own is not None:
            torch.cuda.set_rng_state(own, self.device)
        device_rng = state.get("objective_device_rng")
        if device_rng is not None and self.device_gen is not self.objective_gen:
            self.device_gen.set_state(device_rng)

    def save_checkpoint(self) -> None:
        """The checkpoint, then its progress record (``status`` reads the record, never the
        checkpoint), then the lock's refresh."""
        atomic_torch_save(self.state_dict(), self.checkpoint_path)
        atomic_write_json(layout.progress_path(self.config.run_dir), {
            "step": self.step, "num_batches": self.config.num_batches, "time": time.time(),
            "train_seconds": round(self.train_seconds, 1)})
        if self.lock is not None:
            self.lock.refresh()

    def save_kept_model(self) -> None:
        """The model now, as ``representation/cache_batch_no<step>`` (``keep_models_at``): an
        earlier point of the run that can be evaluated like its end."""
        save_model(self.model, layout.saved_model_dir(self.config.run_dir, self.step))

    def load_checkpoint(self) -> bool:
        """Restore the latest checkpoint if there is one; True if restored."""
        if not self.checkpoint_path.exists():
            return False
        try:
            # Read to the CPU whatever device wrote it: torch.set_rng_state and
            # Generator.set_state accept only CPU tensors, and load_state_dict below moves the
            # model's and the optimiser's tensors to where the model lives.
            state = torch.load(self.checkpoint_path, map_location="cpu", weights_only=True)
        except Exception as err:  # truncated, corrupt, or carrying code
            raise DataFileError(
                f"checkpoint {self.checkpoint_path} cannot be read: it is damaged or not one "
                f"this package wrote ({short_reason(err)}); delete it to restart the run"
            ) from None
        self.load_state_dict(state)
        return True

    # ---------------------------------------------------------------- one step
    def next_batch(self) -> torch.Tensor:
        """The next training batch on the device, float32 (B, C, H, W).

        On the CPU straight from the dataset's numpy batch. With ``pinned_batches`` (CUDA):
        the dataset's compact form (same draw), pinned, copied without waiting and expanded to
        float32 on the device; the copy's pinned buffer is held by PyTorch's host allocator
        until the copy is done.
        """
        if not self.policy.pinned_batches:
            batch = self.dataset.sample_training_batch(self.config.batch_size, self.data_rng)
            return torch.from_numpy(batch).to(self.device)
        compact = self.dataset.sample_training_batch_compact(self.config.batch_size,
                                                             self.data_rng)
        x = torch.from_numpy(compact.images).pin_memory().to(self.device, non_blocking=True)
        return expand_batch(x, compact.scale)

    def training_step(self) -> StepTerms:
        """Draw a batch, compute the objective's loss and take one Adam step (then the
        objective's own updates).

        With immediate checks (the CPU) raises :class:`TrainingDivergedError`, before touching
        the weights, when the model's outputs or the loss are not finite. With deferred ones
        (CUDA) it reads nothing back from the device: :meth:`fit` reads the checks' flags.
        """
        x = self.next_batch()
        self.optimizer.zero_grad(set_to_none=True)
        try:
            terms = self._loss(x)
        except NonFiniteError as err:
            self._fail(str(err))
        if self.finite_guard.deferred:
            self.finite_guard.require(torch.isfinite(terms.total),
                                      "the loss became NaN or infinite")
        elif not torch.isfinite(terms.total):
            self._fail(f"the loss became {float(terms.total)} ({terms.describe()})")
        terms.total.backward()
        self.optimizer.step()
        self.objective.after_model_step(self.model, terms, self.step)
        self.step += 1
        return terms

    def _loss(self, x: torch.Tensor) -> StepTerms:
        """The objective's loss of batch ``x`` (B, C, H, W), under the run's autocast
        (``config.precision``; none for float32). Parameters, gradients and Adam's state stay
        float32; the backward and the optimisers' steps run after the autocast region, as
        PyTorch recommends. A loss returned in bfloat16 (or float16) is refused: its last
        reduction would have lost the small terms to bfloat16's 8 significant bits."""
        with autocast_to(self.config.precision, self.device.type):
            terms = self.objective.loss(self.model, x, self.step)
        if terms.total.numel() != 1:  # else backward() fails in torch's words, far from here
            raise JLoneVAEError(
                f"the {self.config.objective} objective's loss has shape "
                f"{tuple(terms.total.shape)}, not a single number: reduce its terms over the "
                "batch and the latents (a DlibVAE regulariser returns one number per batch; "
                "docs/plugins.md)")
        if terms.total.dtype in (torch.bfloat16, torch.float16):
            raise JLoneVAEError(
                f"the {self.config.objective} objective's loss is {terms.total.dtype} under "
                f"precision {self.config.precision!r}; its reductions must return float32 "
                "(cast the model's outputs with jlonevae_lib.utils.precision.full_precision)")
        return terms

    # ---------------------------------------------------------------- the loop
    def _fail(self, what: str, where: str | None = None, good_step: int | None = None
              ) -> NoReturn:
        """Write FAILED and stop: ``what`` happened ``where`` (default: at the next batch);
        ``good_step``: the batches known good (default: those taken)."""
        cfg = self.config
        where = where if where is not None else f"at batch {self.step + 1}"
        message = f"{what} {where}; training stopped. "
        if self.checkpoint_path.exists():
            message += f"The last good checkpoint is kept at {self.checkpoint_path}. "
        message += f"Try a smaller --lr (now {cfg.lr:g})."
        atomic_write_json(layout.failed_path(cfg.run_dir), {
            "reason": "non-finite loss",
            "step": self.step if good_step is None else good_step, "message": message})
        raise TrainingDivergedError(message)

    def check_finite(self) -> None:
        """Read the deferred finiteness checks (one host sync; nothing on the CPU, whose checks
        are immediate) and stop the run if one failed since the last read. :meth:`fit` calls it
        at log steps and before every save."""
        failures = self.finite_guard.failures()
        if failures:
            first = self.checked_step + 1
            where = (f"at batch {first}" if first == self.step else
                     f"between batches {first} and {self.step} (checked at log steps and "
                     "checkpoints)")
            self._fail("; ".join(failures), where, good_step=self.checked_step)
        self.checked_step = self.step

    def fit(self) -> None:
        """Train from ``self.step`` to ``config.num_batches``, logging and checkpointing."""
        cfg = self.config
        # On resume, TensorBoard readers drop events a killed session logged after its last
        # checkpoint: the first step this session logs again is self.step + 1.
        writer = SummaryWriter(log_dir=str(cfg.log_dir),
                               purge_step=self.step + 1 if self.step else None)
        interactive = sys.stderr.isatty()
        progress = tqdm(total=cfg.num_batches, initial=self.step, unit="batch",
                        mininterval=0.5 if interactive else 30.0, dynamic_ncols=True,
                        desc=cfg.run_name)
        session_start, seconds_before = time.perf_counter(), self.train_seconds
        self.checked_step = self.step
        try:
            with training_numerics(cfg, self.device):
                self._loop(writer, progress, session_start, seconds_before)
        finally:
            progress.close()
            writer.close()

    def _loop(self, writer: SummaryWriter, progress: tqdm, session_start: float,
              seconds_before: float) -> None:
        """:meth:`fit`'s batches. The values of tensors are read (a host sync on CUDA) only at
        log steps and checkpoints."""
        cfg = self.config
        while self.step < cfg.num_batches:
            terms = self.training_step()
            progress.update(1)
            self.train_seconds = seconds_before + time.perf_counter() - session_start
            log_step = self.step % cfg.log_interval == 0 or self.step == cfg.num_batches
            kept = self.step in cfg.keep_models_at
            save = (self.step % cfg.checkpoint_every == 0 or self.step == cfg.num_batches
                    or self.stop_requested or kept)
            if log_step or save:
                self.check_finite()  # before anything is logged or saved
            if log_step:
                self.last_scalars = terms.scalars()
                for name, value in self.last_scalars.items():
                    writer.add_scalar(name, value, self.step)
                progress.set_postfix(loss=f"{terms.total.item():.2f}", refresh=False)
            if kept:
                # Before the checkpoint: a process killed in between redoes the batches
                # since the last checkpoint and saves the same model again.
                self.save_kept_model()
            if save:
                writer.flush()  # every scalar up to the checkpoint is on disk before it
                self.save_checkpoint()
            if self.stop_requested:
                raise TrainingInterrupted(
                    f"stopped by a signal at batch {self.step}; checkpoint saved in "
                    f"{self.checkpoint_path.parent}. Run the same command again to resume.",
                    self.stop_signal)

    def finish(self) -> TrainingResult:
        """Save the final model in the reference layout, export TorchScript, write DONE."""
        run_dir = self.config.run_dir
        model_dir = layout.saved_model_dir(run_dir, self.step)
        save_model(self.model, model_dir)
        torchscript_path = export_torchscript(self.model, run_dir)
        atomic_write_json(layout.done_path(run_dir), {
            "num_batches": self.step,
            "model_dir": str(model_dir.relative_to(run_dir)),
            "final_scalars": self.last_scalars,
            "train_seconds": round(self.train_seconds, 1),
            "device": str(self.device),
            # The numeric settings of the session that finished (TF32 acts only on CUDA).
            "allow_tf32": self.config.allow_tf32,
            "deterministic": self.config.deterministic,
            "precision": self.config.precision,
            "finite_checks": self.policy.describe(),
            "torch": torch.__version__,
            "python": platform.python_version(),
            "machine": platform.machine(),
        })
        return TrainingResult(run_dir=run_dir, num_batches=self.step, model_dir=model_dir,
                              torchscript_path=torchscript_path,
                              final_scalars=self.last_scalars)


@contextmanager
def _graceful_stop(trainer: Trainer) -> Iterator[None]:
    """SIGTERM (Slurm's pre-emption signal) and SIGINT finish the current batch and checkpoint."""

    def request_stop(signum: int, frame: Any) -> None:
        trainer.stop_requested, trainer.stop_signal = True, signum

    previous = {}
    try:
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, request_stop)
    except ValueError:  # not the main thread: leave signals alone
        pass
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _check_existing_run(config: TrainConfig, extend: bool) -> tuple[TrainConfig, bool]:
    """(the config to record, whether the run already finished). Refuses a folder that holds a
    different run, one that failed, and an ``extend`` that does not lengthen the run there."""
    run_dir = config.run_dir
    existing = recorded_config(run_dir)
    if extend:
        config = _extension(config, existing)
    elif existing is not None and not existing.same_run_as(config):
        defaulted = set(existing.to_dict()) - set(
            layout.read_json_object(layout.config_path(run_dir)))
        run_id = "another --run-id NAME" if config.run_id else "--run-id NAME"
        raise JLoneVAEError(
            f"{run_dir} already holds a run with other settings "
            f"({existing.differences(config, defaulted)}); pass {run_id} to start a "
            "separate run, or delete that folder")
    elif existing is not None:
        # The same run resumed (or found finished) without the flags that started it: what it
        # records of its history and the models it keeps stay, and are still kept.
        config = dataclasses.replace(
            config, extended_from=config.extended_from or existing.extended_from,
            keep_models_at=sorted({*config.keep_models_at, *existing.keep_models_at}))
    failed = layout.failed_path(run_dir)
    if failed.exists():
        try:
            reason = str(layout.read_json_object(failed).get("message", ""))
        except DataFileError as err:  # cut short or hand-edited: refused all the same
            raise JLoneVAEError(
                f"{run_dir} holds a run that failed earlier, and its failure marker is "
                f"unreadable ({err}); delete the folder to try again, or, for a study member, "
                "rerun it with 'jlonevae-sweep run --retry-failed'") from None
        raise JLoneVAEError(f"{run_dir} holds a run that failed earlier: {reason} "
                            "Delete the folder to train it again (for a study member: "
                            "'jlonevae-sweep run --retry-failed'); other settings that change "
                            "its folder's name train elsewhere.")
    return config, layout.done_path(run_dir).exists()


def _extension(config: TrainConfig, existing: TrainConfig | None) -> TrainConfig:
    """``config`` as the continuation of the run ``existing`` (``--extend``): its history
    (``extended_from``) and kept models (the old end among them) carried over.

    Refused: no run there, other settings, no checkpoint, or a length that is not longer.
    An extension that was interrupted (the folder already records this length, as an
    extension, and is not finished) resumes.
    """
    run_dir = config.run_dir
    if existing is None:
        raise JLoneVAEError(f"--extend: {run_dir} holds no run to extend; train it first "
                            "(without --extend), or give the settings of the run to extend "
                            "(those in its folder's name pick the folder)")
    if not existing.same_settings_as(config):
        raise JLoneVAEError(f"--extend continues a run of the same settings, but {run_dir} "
                            f"holds other settings "
                            f"({existing.differences(config, also_ignored=['num_batches'])})")
    resuming = (existing.num_batches == config.num_batches and existing.extended_from
                and not layout.is_finished(run_dir))
    if existing.num_batches >= config.num_batches and not resuming:
        elsewhere = ("it is this run: leave out --extend"
                     if existing.num_batches == config.num_batches else
                     f"a run of {config.num_batches} batches without --extend goes to a folder "
                     "of its own")
        raise JLoneVAEError(
            f"--extend lengthens a run: {run_dir} already has {existing.num_batches} batches, "
            f"give --num-batches above that ({elsewhere})")
    if not layout.checkpoint_path(run_dir).is_file():
        raise JLoneVAEError(
            f"--extend continues the final checkpoint, and {layout.checkpoint_path(run_dir)} "
            "is missing (a finished run restored from a snapshot has none): extend it where "
            "it was trained, or train the longer run without --extend, in a folder of its own")
    history = existing.extended_from if resuming else [*existing.extended_from,
                                                       existing.num_batches]
    return dataclasses.replace(
        config, extended_from=history,
        keep_models_at=sorted({*config.keep_models_at, *existing.keep_models_at, *history}))


def _reopen_run(run_dir: Path, old_end: int) -> None:
    """Prepare a run for its extension. DONE goes first, so that no evaluation starts on the
    old end any more; then the final model's metric results become those of the model kept at
    ``old_end`` (``metrics_at_batch/<old_end>/``, where ``jlonevae-evaluate --at-batch`` puts
    them; a metric an evaluation is writing now is refused, one line) and the
    evaluation-failure marker goes. Repeated after a kill, it finishes the move."""
    layout.done_path(run_dir).unlink(missing_ok=True)
    final = layout.metrics_dir(run_dir)
    if final.is_dir():
        kept = layout.kept_metrics_dir(run_dir, old_end)
        kept.mkdir(parents=True, exist_ok=True)
        for metric in sorted(final.iterdir()):
            if metric.is_dir():
                with FolderLock(metric, layout.EXTENDING_LOCK_PURPOSE):  # not while being evaluated
                    pass
                # An evaluation that failed meanwhile leaves its folder empty (or removes it;
                # the lock above makes it again): nothing to carry over.
                remove_if_empty(metric)
                if not metric.exists():
                    continue
            target = kept / metric.name
            if target.exists():  # the same model's results already there (--at-batch <end>)
                shutil.rmtree(metric)
            else:
                metric.rename(target)
        final.rmdir()
    layout.evaluation_failed_path(run_dir).unlink(missing_ok=True)


def _finished_result(run_dir: Path) -> TrainingResult:
    """The result of a run that finished earlier, from its ``DONE``."""
    done_path = layout.done_path(run_dir)
    try:
        done = layout.read_json_object(done_path)
        num_batches, model_dir = int(done["num_batches"]), str(done["model_dir"])
    except (DataFileError, KeyError, TypeError, ValueError) as err:
        what = str(err) if isinstance(err, DataFileError) else \
            f"{done_path} is damaged ({short_reason(err)})"
        raise DataFileError(f"{what}; delete it and run again to finish the run from its last "
                            "checkpoint") from None
    return TrainingResult(
        run_dir=run_dir, num_batches=num_batches, model_dir=run_dir / model_dir,
        torchscript_path=layout.torchscript_path(run_dir),
        final_scalars=done.get("final_scalars", {}), skipped=True,
    )


def train(config: TrainConfig, resume: bool = True,
          trainer: Trainer | None = None, extend: bool = False) -> TrainingResult:
    """Run (or resume, or skip if finished) the training run described by ``config``, in the
    folder :func:`~jlonevae_lib.train.config.place_run` picks.

    ``trainer``: one already built from ``config`` (a CLI builds it first, so that bad dataset
    or architecture settings fail before it reports anything), which must then be placed
    already (``place_run(config).config``); by default, built here.
    ``extend``: continue the finished (or interrupted) run of the same settings in the folder
    to ``config.num_batches`` (docs/training.md, Extending a run).
    """
    if extend and not resume:
        raise JLoneVAEError("--extend continues the run's checkpoint: leave out --no-resume")
    placed = place_run(config, extend=extend).config
    if trainer is None:
        config = placed
        trainer = Trainer(config)  # checks dataset and architecture before anything is written
    elif trainer.config is not config:
        raise ValueError("train() got a Trainer built from another config")
    elif placed.run_dir != config.run_dir:
        raise ValueError("train() got a Trainer built before place_run() chose its folder")
    run_dir = config.run_dir
    # Recorded in config.json, so a run on the natural-image offline fallback says so.
    config = trainer.config = dataclasses.replace(
        config, data_source=getattr(trainer.dataset, "data_source", None))
    if extend and not layout.config_path(run_dir).is_file():
        _extension(config, None)  # refuses before the run's folder is made
    run_dir.mkdir(parents=True, exist_ok=True)
    holder = lock_holder(run_dir)
    if (not extend and layout.done_path(run_dir).exists() and holder is not None
            and holder.alive and holder.purpose == layout.EVALUATION_LOCK_PURPOSE):
        # A sweep evaluates the finished run and holds its lock: nothing is left to train,
        # and nothing that says so changes while the lock is held. Another run's folder, or
        # a failed one, is refused all the same.
        _check_existing_run(config, extend)
        return _finished_result(run_dir)
    # An extension says so in the lock: a sweep leaves the lock of a finished run alone when
    # a killed training left it there, never while the run is being reopened.
    with FolderLock(run_dir, layout.EXTENDING_LOCK_PURPOSE if extend
                    else layout.TRAINING_LOCK_PURPOSE) as lock:
        trainer.lock = lock
        config, finished = _check_existing_run(config, extend)
        trainer.config = config
        if finished and not extend:
            return _finished_result(run_dir)
        # Under the run's lock, any temporary beside a file only training writes is a killed
        # process's half-write.
        for written in layout.training_files(run_dir):
            remove_temporaries(written)
        for saved in layout.saved_model_dirs(layout.representation_dir(run_dir)):
            for name in SAVED_MODEL_FILES:
                remove_temporaries(saved / name)
        if resume:
            trainer.load_checkpoint()
        elif trainer.checkpoint_path.exists():
            raise JLoneVAEError(f"{run_dir} already has a checkpoint; pass --resume to continue "
                                "it, or delete the folder to start over")
        if extend:  # the checkpoint read: the old end is reopened
            _reopen_run(run_dir, config.extended_from[-1])
        if (trainer.step in config.keep_models_at
                and not layout.saved_model_dir(run_dir, trainer.step).is_dir()):
            # A run stopped right at a batch it keeps (the old end of an extended run that
            # had not finished) saves that model before going on.
            trainer.save_kept_model()
        atomic_write_json(layout.config_path(run_dir), config.to_dict())
        if config.gamma and config.jacobian_batch and config.jacobian_batch > config.batch_size:
            # Recorded as asked (a resume compares it), so say what it means here.
            warnings.warn(f"jacobian_batch {config.jacobian_batch} is above batch_size "
                          f"{config.batch_size}: the penalty covers each whole batch",
                          stacklevel=2)
        with _graceful_stop(trainer):
            trainer.fit()
        return trainer.finish()
