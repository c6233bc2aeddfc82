"""Issue 25, finding 1: TF32 turns the forward-difference Jacobian into noise, and every Jacobian
the package computes (training penalty, figures, the reference's facades) runs outside it.

No GPU here, so TF32 is emulated as the review did it: the inputs and weights of each
convolution rounded to TF32's 10-bit mantissa, float32 accumulation, whenever
``torch.backends.cudnn.allow_tf32`` is on (as cuDNN consults it)."""

import contextlib

import pytest
import torch
from torch.overrides import TorchFunctionMode

from jlonevae_lib.architecture import jacobian
from jlonevae_lib.architecture import vae_jacobian as facades
from jlonevae_lib.demo_models import demo_run_dirs
from jlonevae_lib.utils.precision import float32_precision
from jlonevae_lib.visualize.inputs import example_three_dots_image, load_model_from
from jlonevae_lib.visualize.jacobian_columns import compute_jacobian_columns
from tests.utils.precision_state import precision_state


def tf32_round(t: torch.Tensor) -> torch.Tensor:
    """float32 → the nearest value with a 10-bit mantissa (TF32), kept as float32."""
    bits = t.contiguous().view(torch.int32)
    return ((bits + 0x1000) & ~0x1FFF).view(torch.float32)


class EmulatedTF32(TorchFunctionMode):
    """Convolutions see TF32-rounded inputs and weights while cuDNN's TF32 switch is on."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if (getattr(func, "__name__", "") in ("conv2d", "conv_transpose2d")
                and torch.backends.cudnn.allow_tf32):
            args = (tf32_round(args[0]), tf32_round(args[1]), *args[2:])
        return func(*args, **(kwargs or {}))


@pytest.fixture(scope="module")
def jl1_demo():
    return load_model_from(demo_run_dirs()[1])


@pytest.fixture(scope="module")
def latents(jl1_demo):
    """The paper's example image's mean code and 7 points around it: (8, 10)."""
    with torch.no_grad():
        mu = jl1_demo.encode(torch.as_tensor(example_three_dots_image()))[0]
    noise = torch.randn(7, mu.shape[1], generator=torch.Generator().manual_seed(0))
    return torch.cat([mu, mu + 0.5 * noise])


def relative_error(columns: torch.Tensor, exact: torch.Tensor) -> float:
    return float((columns - exact).norm() / exact.norm())


def test_emulated_tf32_makes_the_fd_jacobian_noise_and_the_policy_removes_it(
        jl1_demo, latents, monkeypatch):
    with torch.no_grad():
        exact = jacobian.jacobian_columns_exact(jl1_demo.decode, latents)
        plain = jacobian.jacobian_columns_fd(jl1_demo.decode, latents)  # no TF32 anywhere
        with float32_precision(tf32=True), EmulatedTF32():  # a GPU process's default, emulated
            policy = jacobian.jacobian_columns_fd(jl1_demo.decode, latents)
            with monkeypatch.context() as patch:  # the same call with the policy bypassed
                patch.setattr(jacobian, "ieee_float32", contextlib.nullcontext)
                bypassed = jacobian.jacobian_columns_fd(jl1_demo.decode, latents)
    assert relative_error(plain, exact) < 0.02  # forward differences in float32: ~0.4%
    assert torch.equal(policy, plain)  # the policy's result is plain float32, bit for bit
    assert relative_error(bypassed, exact) > 0.2  # TF32 rounding / ε: ~95% measured
    penalty = float(jacobian.jacobian_l1(plain))
    assert abs(float(jacobian.jacobian_l1(bypassed)) / penalty - 1) > 0.05  # ~40% measured


class FlagRecorder:
    """Records cuDNN's TF32 switch, with the number of rows, in every forward and backward
    pass of a model's decoder."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.forward: list[tuple[int, bool]] = []
        self.backward: list[tuple[int, bool]] = []
        first, last = model.gen_fcs[0], model.gen_convs[-1]
        self.handles = [
            first.register_forward_pre_hook(
                lambda module, args: self.forward.append(
                    (args[0].shape[0], torch.backends.cudnn.allow_tf32))),
            last.register_full_backward_hook(
                lambda module, grad_in, grad_out: self.backward.append(
                    (grad_out[0].shape[0], torch.backends.cudnn.allow_tf32))),
        ]

    def close(self) -> None:
        for handle in self.handles:
            handle.remove()


@pytest.fixture
def tf32_process():
    """A process with TF32 on (what a GPU process gets by default, matmuls included)."""
    with float32_precision(tf32=True):
        yield
        assert torch.backends.cudnn.allow_tf32 is True  # the policy put it back


def test_every_jacobian_path_runs_in_ieee_float32(jl1_demo, latents, tf32_process):
    model = jl1_demo
    recorder = FlagRecorder(model)
    try:
        # Training: the penalty's forward and backward, chunk by chunk.
        jacobian.jacobian_penalty_backward(model.decode, latents, 0.1, sub_batch=4,
                                           generator=torch.Generator().manual_seed(1),
                                           chunk_size=2)
        assert len(recorder.backward) == 2 and not any(flag for _, flag in recorder.backward)
        # Figures and notebooks: the reconstruction as the process says, then exact columns.
        recorder.forward.clear()
        compute_jacobian_columns(model, torch.as_tensor(example_three_dots_image()))
        assert recorder.forward == [(1, True), (1, False)]
        # The reference's facades: FD and exact columns, penalties.
        recorder.forward.clear()
        with torch.no_grad():
            facades.compute_generator_jacobian_optimized(model, latents)
            facades.compute_generator_jacobian_image_optimized(model, latents)
            facades.compute_generator_jacobian_analytic(model, latents[:1], im_channels=1)
            facades.jacobian_loss_function(model, latents, None, "cpu")
            facades.jacobian_l2_loss_function(model, latents, None, "cpu")
    finally:
        recorder.close()
    assert len(recorder.forward) == 5 and not any(flag for _, flag in recorder.forward)
    assert precision_state()["tf32_cudnn"] is True  # the process's choice, back after each


def test_training_runs_the_penalty_in_ieee_and_the_rest_as_the_process_says(
        tmp_path, tf32_process):
    """On the CPU the trainer leaves TF32 alone (it chooses no CPU kernel), so the process's
    setting stays on: the model's own passes see it, the penalty's never do."""
    from jlonevae_lib.train.config import TrainConfig
    from jlonevae_lib.train.trainer import Trainer

    config = TrainConfig(dataset="threeDots", latent_dim=3, batch_size=4, num_batches=2,
                         jacobian_batch=2, annealing_batches=0, device="cpu",
                         output_dir=str(tmp_path))
    trainer = Trainer(config)
    recorder = FlagRecorder(trainer.model)
    try:
        trainer.training_step()
    finally:
        recorder.close()
    penalty_rows = (config.latent_dim + 1) * config.jacobian_batch  # 8; the batch is 4
    assert recorder.forward == [(4, True), (penalty_rows, False)]
    # The penalty's backward ran first (inside the objective), the model's loss's after.
    assert recorder.backward == [(penalty_rows, False), (4, True)]
