"""benchmarks/peer_step_time.py, the PyTorch peer's step timing (disent's β-VAE) that
``bench_baselines.py --peer`` runs in ``.venv-peer``: its pieces that run without disent, its
hard-coded figures of our network (parameters, FLOPs per step) against ours, and, where
benchmarks/build_peer_env.bash builds the environment (once; up to date in a fraction of a
second after that), the whole path on both networks (slow)."""

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
BUILD_SCRIPT = REPO / "benchmarks" / "build_peer_env.bash"
PEER_PYTHON = REPO / ".venv-peer" / "bin" / "python"


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[name]
    return module


@pytest.fixture(scope="session")
def peer_python() -> Path:
    """The interpreter of a ready ``.venv-peer``, built here if needed (as CI does)."""
    built = subprocess.run(["bash", str(BUILD_SCRIPT)], capture_output=True, text=True,
                           timeout=1800)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    return PEER_PYTHON


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


def test_dlib_parameter_count_is_dlib_conv_vaes(peer):
    """The peer's environment has no jlonevae: its figure is checked here, against ours."""
    from jlonevae_lib.architecture.dlib_conv import DlibConvVAE

    model = DlibConvVAE(latent_dim=peer.LATENT_DIM)
    assert sum(p.numel() for p in model.parameters()) == peer.DLIB_PARAMETERS == 690_517


def test_dlib_step_flops_are_our_beta_vae_steps(peer, monkeypatch, tmp_path):
    """DLIB_STEP_FLOPS is what bench_baselines.py counts for our beta_vae row at batch 64."""
    monkeypatch.setenv("DISENTANGLEMENT_LIB_DATA", str(tmp_path))
    from jlonevae_lib.train.trainer import Trainer

    bench = _load("bench_baselines", REPO / "benchmarks" / "bench_baselines.py")
    config = bench.baseline_config("beta_vae", "threeDots", peer.DLIB_FLOPS_BATCH, tmp_path)
    assert bench.step_flops(Trainer(config).training_step) == peer.DLIB_STEP_FLOPS
    assert set(bench.PEER_NETWORKS) == set(peer.NETWORKS)


def test_images_are_required(peer, capsys):
    with pytest.raises(SystemExit) as exit_info:
        peer.main([])
    assert exit_info.value.code == 2
    assert "--images is required" in capsys.readouterr().err


@pytest.mark.slow
def test_peer_environment_times_disents_beta_vae(peer, peer_python, tmp_path):
    """In .venv-peer: the checks pass (both networks' losses; the dlib network's parameters
    and FLOPs) and a tiny timing of each network prints the documented JSON (disent's by
    default)."""
    subprocess.run([str(peer_python), str(SCRIPT), "--check"], check=True)
    images = tmp_path / "images.npy"
    np.save(images, np.random.default_rng(0).random((16, 1, 64, 64), dtype=np.float32))
    command = [str(peer_python), str(SCRIPT), "--images", str(images), "--steps", "2",
               "--warmup", "1", "--threads", "1", "--batch-size", "4"]
    reports = {network: json.loads(subprocess.run(
        command + ([] if network is None else ["--network", network]), check=True,
        capture_output=True, text=True).stdout) for network in (None, "dlib")}
    for report in reports.values():
        assert report["ms_per_step"]["beta_vae"] > 0
        assert report["gflop_per_step"]["beta_vae"] > 0
        assert (report["threads"], report["batch_size"], report["steps"]) == (1, 4, 2)
        assert report["disent"] == "0.8.0"
    assert reports[None]["network"] == "disent EncoderConv64/DecoderConv64"
    assert reports["dlib"]["network"] == peer.NETWORKS["dlib"]
    assert reports["dlib"]["parameters"] == peer.DLIB_PARAMETERS
    assert reports[None]["parameters"] > peer.DLIB_PARAMETERS
    # the dlib step's FLOPs scale with the batch: 4/64 of the checked count
    assert reports["dlib"]["gflop_per_step"]["beta_vae"] == round(
        peer.DLIB_STEP_FLOPS * 4 / peer.DLIB_FLOPS_BATCH / 1e9, 4)


@pytest.mark.slow
def test_dlib_network_check_rejects_disents_network(peer_python):
    """check_dlib_network is not vacuous: disent's own networks fail it."""
    code = ("import importlib.util, sys, warnings; warnings.filterwarnings('ignore'); "
            f"spec = importlib.util.spec_from_file_location('peer', {str(SCRIPT)!r}); "
            "peer = importlib.util.module_from_spec(spec); spec.loader.exec_module(peer); "
            "peer._torchvision_state()\n"
            "try:\n    peer.check_dlib_network(*peer.build_beta_vae(network='disent'))\n"
            "except AssertionError as err:\n    print('rejected:', err)\n")
    done = subprocess.run([str(peer_python), "-c", code], check=True, capture_output=True,
                          text=True)
    assert "rejected: 911,701 parameters, ours has 690,517" in done.stdout


@pytest.mark.slow
def test_bench_baselines_quick_peer_json(peer_python, capsys, monkeypatch, tmp_path):
    """bench_baselines.py --quick --peer --json end to end: the peer's row figures and record."""
    monkeypatch.setenv("DISENTANGLEMENT_LIB_DATA", str(tmp_path))
    bench = _load("bench_baselines", REPO / "benchmarks" / "bench_baselines.py")
    path = tmp_path / "record.json"
    assert bench.main(["--quick", "--peer", "--peer-python", str(peer_python),
                       "--json", str(path)]) == 0
    out = capsys.readouterr().out
    assert "ms/step before and after: dlib network" in out and "vs peer" in out
    assert "on disentanglement_lib's network" in out and "EncoderConv64/DecoderConv64" in out
    assert "(the same count)" in out  # the dlib network's FLOPs are ours
    record = json.loads(path.read_text())
    peer = record["peer"]
    assert set(peer) == {"target", "dlib_network", "disent_network"}
    assert record["methods"]["beta_vae"]["peer_ms"] == peer["dlib_network"]["ms"] > 0
    for entry in (peer["dlib_network"], peer["disent_network"]):
        assert set(entry) == {"runs", "ms", "gflop_per_step", "report"}
        assert len(entry["runs"]) == 2 and entry["report"]["batch_size"] == 8
        assert entry["ms"] == min(run["beta_vae"] for run in entry["runs"])
    assert peer["dlib_network"]["gflop_per_step"] < peer["disent_network"]["gflop_per_step"]
    assert peer["disent_network"]["report"]["network"] == "disent EncoderConv64/DecoderConv64"
