"""benchmarks/peer_step_time.py, the PyTorch peer's step timing (disent's β-VAE) that
``bench_baselines.py --peer`` runs in ``.venv-peer``: its pieces that run without disent, and,
where benchmarks/build_peer_env.bash has built the environment, the whole path (slow; skipped
when ``.venv-peer`` is absent)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "peer_step_time.py"
PEER_PYTHON = REPO / ".venv-peer" / "bin" / "python"
needs_peer_env = pytest.mark.skipif(
    not PEER_PYTHON.exists(),
    reason="needs .venv-peer (bash benchmarks/build_peer_env.bash)")


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[name]
    return module


@pytest.fixture(scope="module")
def peer():
    return _load("peer_step_time", SCRIPT)


def test_it_imports_neither_jlonevae_nor_torch_at_module_level():
    """The peer's environment has no jlonevae; torch is imported where it is used."""
    imports = [line.strip() for line in SCRIPT.read_text().splitlines()
               if line.strip().startswith(("import ", "from "))]
    assert not [line for line in imports if "jlonevae" in line]
    module_level = [line for line in SCRIPT.read_text().splitlines()
                    if line.startswith(("import ", "from "))]
    assert not [line for line in module_level if "torch" in line or "disent" in line]


def test_inert_torchvision_imports_and_refuses_use(peer):
    """What stands in for a torchvision that cannot load: disent's imports (a module, a
    function, a base class) succeed; using any of them fails loudly."""
    finder = peer._InertTorchvision()
    assert finder.find_spec("torch") is None and finder.find_spec("torchvisionx") is None
    spec = finder.find_spec("torchvision.datasets")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    image_folder = module.ImageFolder

    class NumpyFolder(image_folder):  # disent subclasses it at import time
        pass

    with pytest.raises(RuntimeError, match="not installed in the peer environment"):
        NumpyFolder("root")
    with pytest.raises(AttributeError):
        module.__all__  # noqa: B018  (import machinery probes dunders)


def test_malloc_tuning_reports_whether_it_took(peer):
    assert isinstance(peer.tune_glibc_malloc(), bool)


def test_images_are_required(peer, capsys):
    with pytest.raises(SystemExit) as exit_info:
        peer.main([])
    assert exit_info.value.code == 2
    assert "--images is required" in capsys.readouterr().err


@pytest.mark.slow
@needs_peer_env
def test_peer_environment_times_disents_beta_vae(tmp_path):
    """In .venv-peer: the loss check passes and a tiny timing prints the documented JSON."""
    subprocess.run([str(PEER_PYTHON), str(SCRIPT), "--check"], check=True)
    images = tmp_path / "images.npy"
    np.save(images, np.random.default_rng(0).random((16, 1, 64, 64), dtype=np.float32))
    done = subprocess.run([str(PEER_PYTHON), str(SCRIPT), "--images", str(images), "--steps",
                           "2", "--warmup", "1", "--threads", "1", "--batch-size", "4"],
                          check=True, capture_output=True, text=True)
    report = json.loads(done.stdout)
    assert report["ms_per_step"]["beta_vae"] > 0 and report["gflop_per_step"]["beta_vae"] > 0
    assert (report["threads"], report["batch_size"], report["steps"]) == (1, 4, 2)
    assert report["disent"] == "0.8.0"
    assert report["network"] == "disent EncoderConv64/DecoderConv64"


@pytest.mark.slow
@needs_peer_env
def test_bench_baselines_quick_peer_json(capsys, monkeypatch, tmp_path):
    """bench_baselines.py --quick --peer --json end to end: the peer's row figures and record."""
    monkeypatch.setenv("DISENTANGLEMENT_LIB_DATA", str(tmp_path))
    bench = _load("bench_baselines", REPO / "benchmarks" / "bench_baselines.py")
    path = tmp_path / "record.json"
    assert bench.main(["--quick", "--peer", "--peer-python", str(PEER_PYTHON),
                       "--json", str(path)]) == 0
    out = capsys.readouterr().out
    assert "PyTorch peer ms/step before and after" in out and "vs peer" in out
    record = json.loads(path.read_text())
    assert record["methods"]["beta_vae"]["peer_ms"] == record["peer"]["ms"] > 0
    assert len(record["peer"]["runs"]) == 2
    assert record["peer"]["report"]["batch_size"] == 8
