"""The float32 precision policy: IEEE float32 inside, every setting put back afterwards,
whichever of PyTorch's two APIs the process used; and the bf16 autocast of a mixed-precision run,
which the policy switches off."""

import pytest
import torch

from jlonevae_lib.utils import precision as precision_module
from jlonevae_lib.utils.errors import JLoneVAEError
from jlonevae_lib.utils.precision import (
    autocast_disabled,
    autocast_to,
    check_autocast_support,
    float32_precision,
    full_precision,
    ieee_float32,
)
from tests.utils.precision_state import precision_state


@pytest.fixture(autouse=True)
def _restore_process_settings():
    """Each test changes process-wide switches; the suite gets them back as they were."""
    before = precision_state()
    with float32_precision(tf32=False):  # a scope whose exit restores `before` exactly
        yield
    assert precision_state() == before


def _is_ieee(state) -> bool:
    return (state["tf32_cudnn"] is False and state["tf32_matmul"] is False
            and state["matmul_precision"] == "highest"
            and all(value == "ieee" for key, value in state.items()
                    if key in ("cuda.matmul.fp32_precision", "cudnn.conv.fp32_precision",
                               "cudnn.rnn.fp32_precision")))


def _legacy_tf32_on() -> None:
    torch.backends.cudnn.allow_tf32 = True  # PyTorch's default
    torch.backends.cuda.matmul.allow_tf32 = True


def _new_api_tf32_on() -> None:
    if not hasattr(torch.backends.cudnn, "conv"):
        pytest.skip("this PyTorch has no per-operation fp32_precision settings")
    torch.backends.cudnn.fp32_precision = "tf32"
    torch.backends.cudnn.conv.fp32_precision = "none"  # inherits "tf32" from cudnn
    torch.backends.cuda.matmul.fp32_precision = "tf32"


def _medium_matmul() -> None:
    torch.set_float32_matmul_precision("medium")  # bfloat16 CPU products where available


@pytest.mark.parametrize("setup", [_legacy_tf32_on, _new_api_tf32_on, _medium_matmul])
def test_ieee_inside_and_everything_restored_after(setup) -> None:
    setup()
    before = precision_state()
    with ieee_float32():
        assert _is_ieee(precision_state())
        with float32_precision(tf32=True):  # nested: the innermost wins, then unwinds
            assert precision_state()["tf32_cudnn"] is True
        assert _is_ieee(precision_state())
    assert precision_state() == before


def test_restored_when_the_block_raises() -> None:
    _legacy_tf32_on()
    before = precision_state()
    with pytest.raises(RuntimeError, match="boom"), ieee_float32():
        raise RuntimeError("boom")
    assert precision_state() == before


def test_tf32_allowed_sets_both_switches() -> None:
    with float32_precision(tf32=True):
        state = precision_state()
    assert state["tf32_cudnn"] is True and state["tf32_matmul"] is True
    assert state["matmul_precision"] == "high"


def test_cpu_results_unchanged_by_the_policy() -> None:
    """On the CPU the switches choose no kernel: the same bits inside and outside."""
    gen = torch.Generator().manual_seed(0)
    conv = torch.nn.Conv2d(3, 8, 3)
    x, a, b = (torch.randn(2, 3, 16, 16, generator=gen), torch.randn(64, 64, generator=gen),
               torch.randn(64, 64, generator=gen))
    outside = (conv(x), a @ b)
    with ieee_float32():
        inside = (conv(x), a @ b)
    # Bitwise: one process, the same inputs and shapes, the same CPU kernels on both sides
    # (the switches change nothing on the CPU), which the libraries do promise.
    assert all(torch.equal(p, q) for p, q in zip(outside, inside, strict=True))


# ------------------------------------------------------------------ bf16 autocast
def test_autocast_to_bf16_runs_products_in_bfloat16_and_float32_runs_none() -> None:
    a = torch.randn(8, 8)
    with autocast_to("float32", "cpu"):
        assert not torch.is_autocast_enabled("cpu") and (a @ a).dtype == torch.float32
    with autocast_to("bf16", "cpu"):
        assert torch.get_autocast_dtype("cpu") == torch.bfloat16
        assert (a @ a).dtype == torch.bfloat16
    assert not torch.is_autocast_enabled("cpu")
    with pytest.raises(JLoneVAEError, match="precision must be one of float32, bf16"), \
            autocast_to("fp16", "cpu"):
        pass


def test_ieee_float32_switches_autocast_off_and_back_on() -> None:
    a = torch.randn(8, 8)
    with autocast_to("bf16", "cpu"):
        with ieee_float32():
            assert not torch.is_autocast_enabled("cpu")
            assert (a @ a).dtype == torch.float32
        assert torch.is_autocast_enabled("cpu") and (a @ a).dtype == torch.bfloat16
    with autocast_disabled():  # no autocast on: nothing to do
        assert not torch.is_autocast_enabled("cpu")


def test_full_precision_widens_reduced_dtypes_only() -> None:
    x = torch.randn(3)
    assert full_precision(x) is x and full_precision(x.double()).dtype == torch.float64
    assert full_precision(x.bfloat16()).dtype == torch.float32
    assert full_precision(x.half()).dtype == torch.float32


def test_a_device_without_bf16_autocast_is_refused_in_one_line(monkeypatch) -> None:
    check_autocast_support("bf16", torch.device("cpu"))  # PyTorch has it on every x86 CPU
    check_autocast_support("float32", torch.device("cuda"))  # nothing asked: nothing checked
    monkeypatch.setattr(precision_module.torch.cuda, "is_bf16_supported", lambda: False)
    with pytest.raises(JLoneVAEError, match=r"^precision 'bf16' needs bfloat16 autocast, "
                                            r"which device cuda does not support"):
        check_autocast_support("bf16", torch.device("cuda"))
    monkeypatch.setattr(precision_module.torch.amp, "is_autocast_available", lambda _: False)
    with pytest.raises(JLoneVAEError, match="--precision float32"):
        check_autocast_support("bf16", torch.device("cpu"))
