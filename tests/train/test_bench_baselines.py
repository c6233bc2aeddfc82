"""benchmarks/bench_baselines.py: its plain port is disentanglement_lib's network and β-VAE
loss, its tables' verdicts (TensorFlow, the PyTorch peer, the floor), the floor's matmul
libraries, the ``--json`` record's structure, and the script runs end to end in quick mode (as
CI runs it). The peer's own script: tests/train/test_peer_step_time.py."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
import torch
from torch.nn import functional as F

from jlonevae_lib.architecture.dlib_conv import DlibConvVAE
from jlonevae_lib.train.dlib_losses import bernoulli_logits_loss, gaussian_kl
from tests.benchmark_scripts import benchmark_script


@pytest.fixture(scope="module")
def bench():
    with benchmark_script("bench_baselines") as module:
        yield module


def test_plain_port_is_disentanglement_libs_network(bench):
    """The reference computes what dlibConv computes: same parameter count, and with dlibConv's
    weights copied in (the flatten and reshape permuted to NCHW order), the same means,
    log-variances and logits to float32 rounding."""
    torch.manual_seed(0)
    ours = DlibConvVAE(latent_dim=10)
    plain = bench.plain_dlib_vae(latent_dim=10)
    assert sum(p.numel() for p in plain.parameters()) == sum(
        p.numel() for p in ours.parameters()) == 690517
    enc, dec = ours.encoder, ours.decoder
    with torch.no_grad():
        convs = [m for m in plain["encoder"] if isinstance(m, torch.nn.Conv2d)]
        for mine, theirs in zip(convs, (enc.e1, enc.e2, enc.e3, enc.e4), strict=True):
            mine.weight.copy_(theirs.weight)
            mine.bias.copy_(theirs.bias)
        e5, head = [m for m in plain["encoder"] if isinstance(m, torch.nn.Linear)]
        # ours flattens (h, w, c); the port flattens (c, h, w)
        e5.weight.copy_(enc.e5.weight.reshape(256, 4, 4, 64).permute(0, 3, 1, 2)
                        .reshape(256, 1024))
        e5.bias.copy_(enc.e5.bias)
        head.weight.copy_(torch.cat((enc.means.weight, enc.log_var.weight)))
        head.bias.copy_(torch.cat((enc.means.bias, enc.log_var.bias)))
        dense, dense_1 = [m for m in plain["decoder"] if isinstance(m, torch.nn.Linear)]
        dense.weight.copy_(dec.dense.weight)
        dense.bias.copy_(dec.dense.bias)
        dense_1.weight.copy_(dec.dense_1.weight.reshape(4, 4, 64, 256).permute(2, 0, 1, 3)
                             .reshape(1024, 256))
        dense_1.bias.copy_(dec.dense_1.bias.reshape(4, 4, 64).permute(2, 0, 1).reshape(1024))
        deconvs = [m for m in plain["decoder"] if isinstance(m, torch.nn.ConvTranspose2d)]
        for mine, theirs in zip(deconvs, (dec.conv2d_transpose, dec.conv2d_transpose_1,
                                          dec.conv2d_transpose_2, dec.conv2d_transpose_3),
                                strict=True):
            mine.weight.copy_(theirs.weight)
            mine.bias.copy_(theirs.bias)
        x = torch.rand(3, 1, 64, 64, generator=torch.Generator().manual_seed(1))
        z = torch.randn(3, 10, generator=torch.Generator().manual_seed(2))
        mu, logvar = plain["encoder"](x).chunk(2, dim=1)
        torch.testing.assert_close((mu, logvar), ours.encode(x), rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(plain["decoder"](z), ours.decode_logits(z),
                                   rtol=1e-5, atol=1e-5)
        # and the port's loss terms are disentanglement_lib's
        logits = plain["decoder"](z)
        reconstruction = F.binary_cross_entropy_with_logits(
            logits, x, reduction="none").sum(dim=(1, 2, 3)).mean()
        torch.testing.assert_close(reconstruction, bernoulli_logits_loss(logits, x))
        kl = (0.5 * (mu.pow(2) + logvar.exp() - logvar - 1).sum(dim=1)).mean()
        torch.testing.assert_close(kl, gaussian_kl(mu, logvar))


def test_every_baseline_has_a_tensorflow_figure_and_runs_its_study_setting(bench, tmp_path):
    assert set(bench.TF_STEP_MS) == set(bench.METHODS)
    for method in bench.METHODS:
        config = bench.baseline_config(method, "threeDots", 8, tmp_path)
        assert (config.objective, config.architecture, config.batch_size) == (method, "dlibConv", 8)
        assert config.lr == 1e-4 and config.latent_dim == 10
    assert bench.baseline_config("factor_vae", "threeDots", 8, tmp_path).objective_params == {
        "gamma": 30.0}


def test_table_verdicts(bench):
    per_block = {bench.REFERENCE: [0.040, 0.050, 0.045], "beta_vae": [0.026, 0.025, 0.027],
                 "factor_vae": [0.040, 0.041, 0.039], "jlonevae fd": [0.3]}
    table = bench.format_table(per_block)
    rows = {line.split()[0]: line for line in table.splitlines()}
    assert rows["beta_vae"].split()[1:3] == ["26.0", "25.0"]
    assert rows["beta_vae"].endswith(" met")  # 26.0 <= 0.7 * 37.5
    assert rows["factor_vae"].endswith("not met")  # 40.0 > 0.7 * 50.7
    assert "TF" not in rows["jlonevae"].split("x", 1)[1]
    assert "target met by 1 of 6 baselines" in table
    assert "TF ms" not in bench.format_table(per_block, compare_tf=False)


def test_table_verdicts_against_tensorflow_measured_here(bench):
    per_block = {bench.REFERENCE: [0.045], "beta_vae": [0.026], "factor_vae": [0.040]}
    measured = {method: 60.0 for method in bench.METHODS}
    table = bench.format_table(per_block, tf_step_ms=measured)
    rows = {line.split()[0]: line for line in table.splitlines()}
    assert rows["factor_vae"].endswith(" met")  # 40.0 <= 0.7 * 60, though not vs TF_STEP_MS
    assert rows[bench.REFERENCE.split()[0]].split()[-1] == "0.75x"  # 45 / TF's β-VAE 60
    assert "target met by 2 of 6" in table and "measured here, back to back" in table


#: disentanglement_lib's network, multiply-adds per image of each layer's forward pass, written
#: out from its shapes (docs/method.md): output positions × input channels × kernel taps.
DLIB_FORWARD_MACS = {
    "e1": 32 * 32 * 32 * 1 * 16, "e2": 16 * 16 * 32 * 32 * 16, "e3": 8 * 8 * 64 * 32 * 4,
    "e4": 4 * 4 * 64 * 64 * 4, "e5": 1024 * 256, "means and log_var": 256 * 2 * 10,
    "dense": 10 * 256, "dense_1": 256 * 1024,
    # transposed convolutions: input positions × input channels × output channels × taps
    "conv2d_transpose": 4 * 4 * 64 * 64 * 16, "conv2d_transpose_1": 8 * 8 * 64 * 32 * 16,
    "conv2d_transpose_2": 16 * 16 * 32 * 32 * 16, "conv2d_transpose_3": 32 * 32 * 32 * 1 * 16,
}


def test_step_flops_counts_the_networks_arithmetic(bench, monkeypatch, tmp_path):
    """A β-VAE training step does each layer's forward product, its weight gradient and its
    input gradient (all but e1's: the images need none), 2 FLOPs per multiply-add."""
    monkeypatch.setenv("DISENTANGLEMENT_LIB_DATA", str(tmp_path))
    batch = 2
    step = bench.plain_beta_vae_step("threeDots", batch)
    forward = sum(DLIB_FORWARD_MACS.values())
    expected = 2 * batch * (3 * forward - DLIB_FORWARD_MACS["e1"])
    assert bench.step_flops(step) == expected
    trainer_step = bench.Trainer(bench.baseline_config("beta_vae", "threeDots", batch,
                                                       tmp_path)).training_step
    assert bench.step_flops(trainer_step) == expected


def test_floor_table_puts_a_target_under_the_floor_when_the_peak_cannot_reach_it(bench):
    per_block = {"beta_vae": [0.059], "factor_vae": [0.10], "jlonevae fd": [0.4]}
    flops = {"beta_vae": 5_271_000_000, "factor_vae": 1_000_000_000, "jlonevae fd": 39e9}
    table = bench.format_floor_table(per_block, flops, peak_gflops=184.5,
                                     tf_step_ms={m: 37.5 for m in bench.METHODS})
    rows = {line.split()[0]: line.split() for line in table.splitlines()[3:]}
    # 5.271 GFLOP at 184.5 GFLOP/s: 28.6 ms, above 0.7 × 37.5 = 26.2 ms
    assert rows["beta_vae"][1:5] == ["5.27", "28.6", "59.0", "48%"]
    assert rows["beta_vae"][5:] == ["26.2", "under", "the", "floor"]
    assert rows["factor_vae"][5:] == ["26.2", "above", "the", "floor"]  # 5.4 ms floor
    assert len(rows["jlonevae"]) == 6  # no target for our own rows
    assert "184.5 GFLOP/s" in table.splitlines()[0]
    no_tf = bench.format_floor_table(per_block, flops, 184.5, compare_tf=False)
    assert "floor" not in no_tf.splitlines()[-1]


@pytest.mark.slow
def test_quick_mode_runs(bench, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("DISENTANGLEMENT_LIB_DATA", str(tmp_path))
    assert bench.main(["--quick", "--ablation", "--floor"]) == 0
    out = capsys.readouterr().out
    for row in (bench.REFERENCE, *bench.METHODS, *bench.JL1_ROWS, bench.ABLATION_ROW):
        line = next(line for line in out.splitlines() if line.startswith(row + " "))
        assert float(line[len(row):].split()[0]) > 0
    assert "batch 8 from threeDots" in out
    floor = out[out.index("arithmetic floor"):].splitlines()
    for row in (bench.REFERENCE, *bench.METHODS, *bench.JL1_ROWS, bench.ABLATION_ROW):
        line = next(line for line in floor if line.startswith(row + " "))
        gflop, floor_ms = map(float, line[len(row):].split()[:2])
        assert gflop > 0 and floor_ms > 0


def test_table_compares_the_beta_vae_rows_with_the_pytorch_peer(bench):
    per_block = {bench.REFERENCE: [0.045], "beta_vae": [0.040], "factor_vae": [0.060]}
    table = bench.format_table(per_block, peer_ms=50.0)
    assert "peer ms" in table.splitlines()[0] and "vs peer" in table.splitlines()[0]
    rows = {line.split()[0]: line.split() for line in table.splitlines()[2:]}
    assert rows["beta_vae"][4:6] == ["50.0", "0.80x"]  # 40 / 50
    assert rows[bench.REFERENCE.split()[0]][6:8] == ["50.0", "0.90x"]
    assert rows["factor_vae"][4:] == ["50.7", "1.18x", "not", "met"]  # no peer figure
    lines = {line.split()[0]: line for line in table.splitlines()[2:]}
    # the peer columns left blank: TensorFlow's column stays aligned
    assert lines["factor_vae"].index("50.7") == lines["beta_vae"].index("37.5")
    assert "beta_vae 0.80× its step, target ≤ 0.8× met" in table
    assert "EncoderConv64" not in table  # no figure on disent's own network
    slower = bench.format_table({**per_block, "beta_vae": [0.041]}, compare_tf=False,
                                peer_ms=50.0)
    assert "target ≤ 0.8× not met" in slower and "TF ms" not in slower
    assert "peer" not in bench.format_table(per_block)


def test_table_names_both_peer_networks_and_their_arithmetic(bench):
    """The peer columns and the verdict compare with the dlib network (``peer_ms``); a second
    line gives ours against disent's own Conv64 network, each line with its GFLOP."""
    per_block = {bench.REFERENCE: [0.045], "beta_vae": [0.040]}
    table = bench.format_table(per_block, peer_ms=50.0, peer_disent_ms=64.0,
                               peer_gflop={"dlib": 5.271, "disent": 6.8901})
    rows = {line.split()[0]: line.split() for line in table.splitlines()[2:]}
    assert rows["beta_vae"][4:6] == ["50.0", "0.80x"]
    verdict = next(line for line in table.splitlines() if "target ≤ 0.8×" in line)
    assert "disentanglement_lib's network, 5.27 GFLOP/step" in verdict
    assert verdict.endswith("beta_vae 0.80× its step, target ≤ 0.8× met")
    disent = table.splitlines()[table.splitlines().index(verdict) + 1]
    assert "disent's own EncoderConv64/DecoderConv64 (64.0 ms, 6.89 GFLOP/step)" in disent
    assert disent.endswith("beta_vae 0.62× its step")  # 40 / 64


def test_peer_timing_names_its_network(bench, monkeypatch, tmp_path):
    """measure_peer_step passes the network to peer_step_time.py and returns its JSON."""
    commands = []

    def run(command, **kwargs):
        commands.append(command)
        return subprocess.CompletedProcess(command, 0, stdout='noise\n{"ms_per_step": {\n'
                                           ' "beta_vae": 1.5}}\n', stderr="")

    monkeypatch.setattr(bench.subprocess, "run", run)
    for network in bench.PEER_NETWORKS:
        report = bench.measure_peer_step(Path("python"), tmp_path / "x.npy", 2, 4, 1, 8, True,
                                         network)
        assert report == {"ms_per_step": {"beta_vae": 1.5}}
        assert commands[-1][commands[-1].index("--network") + 1] == network
        assert commands[-1][-1] == "--tune-malloc"


def test_peer_without_its_environment_is_a_clear_usage_error(bench, capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        bench.main(["--quick", "--peer", "--peer-python", str(tmp_path / "no" / "python")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "--peer needs the PyTorch peer's environment" in err
    assert "bash benchmarks/build_peer_env.bash" in err


def test_floor_takes_the_fastest_library_and_names_it(bench):
    def slow(a, b):
        def call():
            # 50 ms on top of the same product: the fastest of five 64x64 products stays far
            # below that even on a machine busy with other work (2 ms was not, under load).
            time.sleep(0.05)
            return a @ b
        return call

    gflops = bench.matmul_gflops(64, 5, libraries={"slow": slow, "fast": bench._torch_matmul})
    assert set(gflops) == {"slow", "fast"} and all(v > 0 for v in gflops.values())
    assert bench.matmul_peak(gflops) == ("fast", gflops["fast"])
    assert bench.matmul_peak({"a": 1.0, "b": 3.0, "c": 2.0}) == ("b", 3.0)


def test_every_matmul_library_computes_the_product(bench):
    """Each library's timed call computes a @ b (the packed oneDNN calls included), and the
    default set times them all at a tiny size."""
    generator = torch.Generator().manual_seed(0)
    a, b = torch.randn(128, 64, generator=generator), torch.randn(64, 96, generator=generator)
    libraries = bench.matmul_libraries()
    assert any(name.startswith(("MKL", "BLAS")) for name in libraries)
    assert any(name.endswith("(numpy)") for name in libraries)
    if torch.backends.mkldnn.is_available():
        assert {"oneDNN matmul (torch)", "oneDNN 1x1 conv (torch)"} <= set(libraries)
    with torch.no_grad():
        for name, build in libraries.items():
            product = torch.as_tensor(build(a, b)())
            if product.dim() == 4:  # the convolution's (1, N, M/64, 64) channels-last output
                product = product.permute(0, 2, 3, 1).reshape(128, 96)
            torch.testing.assert_close(product, a @ b, rtol=1e-4, atol=1e-4, msg=name)
    gflops = bench.matmul_gflops(64, 1)
    assert set(gflops) == set(libraries) and all(v > 0 for v in gflops.values())


@pytest.mark.skipif(not torch.backends.mkldnn.is_available(), reason="torch without oneDNN")
def test_onednn_calls_run_onednn_without_reordering_the_weights(bench, capfd):
    """oneDNN's verbose log of the timed calls: its inner product and its convolution run,
    and no reorder (the weights were packed beforehand, untimed)."""
    a, b = torch.randn(128, 64), torch.randn(64, 96)
    calls = {"oneDNN matmul (torch)": "inner_product", "oneDNN 1x1 conv (torch)": "convolution"}
    for name, primitive in calls.items():
        call = bench.matmul_libraries()[name](a, b)
        call()
        capfd.readouterr()
        with torch.no_grad(), torch.backends.mkldnn.verbose(torch.backends.mkldnn.VERBOSE_ON):
            call()
        executed = [line.split(",") for line in capfd.readouterr().out.splitlines()
                    if line.startswith("onednn_verbose") and ",exec," in line]
        assert len(executed) == 1 and primitive in executed[0], (name, executed)
        assert "reorder" not in executed[0]


#: The ``--json`` record's keys, as the module docstring documents them.
RECORD_KEYS = {"date", "machine", "torch", "threads", "malloc_tuned", "settings", "rows",
               "methods", "tensorflow", "peer", "floor"}
MACHINE_KEYS = {"cpu", "cpus", "cpu_flags", "load_average_start", "load_average_end"}
FLOOR_KEYS = {"matmul_size", "matmul_gflops", "peak_library", "peak_gflops", "gflop_per_step",
              "floor_ms"}


def _positive_numbers(values) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0
               for v in values)


def test_run_record_has_the_documented_structure(bench):
    per_block = {bench.REFERENCE: [0.045, 0.046], **{m: [0.040, 0.041] for m in bench.METHODS}}
    tf_runs = [{m: 50.0 for m in bench.METHODS}, {m: 48.0 for m in bench.METHODS}]
    peer_runs = {
        "dlib": [{"ms_per_step": {"beta_vae": 55.0}, "gflop_per_step": {"beta_vae": 5.271}},
                 {"ms_per_step": {"beta_vae": 50.0}, "gflop_per_step": {"beta_vae": 5.271}}],
        "disent": [{"ms_per_step": {"beta_vae": 70.0}, "gflop_per_step": {"beta_vae": 6.89}},
                   {"ms_per_step": {"beta_vae": 65.0}, "gflop_per_step": {"beta_vae": 6.89}}]}
    machine = {"cpu": bench.cpu_model(), "cpus": 2,
               "cpu_flags": bench.cpu_flags(bench.CPU_FLAGS),
               "load_average_start": bench.load_average(), "load_average_end": None}
    record = bench.run_record(
        per_block, settings={"steps": 2}, machine=machine, tf_runs=tf_runs,
        peer_runs=peer_runs, flops={m: 5_000_000_000 for m in per_block},
        matmul={"MKL (torch a @ b)": 50.0, "oneDNN matmul (torch)": 100.0}, matmul_size=64)
    assert set(record) == RECORD_KEYS and set(record["machine"]) == MACHINE_KEYS
    assert record["date"].endswith("Z")
    assert record["methods"]["beta_vae"] == {
        "ours_ms": pytest.approx(40.5), "tensorflow_ms": 48.0, "peer_ms": 50.0}  # dlib's
    assert record["methods"]["factor_vae"]["peer_ms"] is None
    peer = record["peer"]
    assert set(peer) == {"target", "dlib_network", "disent_network"}
    assert peer["target"] == bench.PEER_TARGET
    assert peer["dlib_network"] == {"runs": [{"beta_vae": 55.0}, {"beta_vae": 50.0}],
                                    "ms": 50.0, "gflop_per_step": 5.271,
                                    "report": peer_runs["dlib"][0]}
    assert peer["disent_network"]["ms"] == 65.0
    assert peer["disent_network"]["gflop_per_step"] == 6.89
    assert set(record["floor"]) == FLOOR_KEYS
    assert record["floor"]["peak_library"] == "oneDNN matmul (torch)"
    assert record["floor"]["floor_ms"]["beta_vae"] == pytest.approx(50.0)  # 5 GFLOP at 100
    bare = bench.run_record(per_block, settings={}, machine=machine)
    assert bare["tensorflow"] is bare["peer"] is bare["floor"] is None
    assert bare["methods"]["beta_vae"]["tensorflow_ms"] is None
    assert isinstance(bench.cpu_model(), str) and bench.cpu_model()
    flags = bench.cpu_flags(bench.CPU_FLAGS)
    assert flags is None or set(flags) == set(bench.CPU_FLAGS)


@pytest.mark.slow
def test_quick_mode_writes_the_json_record(bench, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("DISENTANGLEMENT_LIB_DATA", str(tmp_path))
    path = tmp_path / "out" / "record.json"
    path.parent.mkdir()
    assert bench.main(["--quick", "--floor", "--json", str(path)]) == 0
    assert f"wrote {path}" in capsys.readouterr().out
    record = json.loads(path.read_text())
    assert set(record) == RECORD_KEYS and set(record["machine"]) == MACHINE_KEYS
    assert record["settings"] == {"quick": True, "batch_size": 8, "dataset": "threeDots",
                                  "steps": 2, "block": 1, "warmup": 1, "ablation": False}
    assert record["threads"] == torch.get_num_threads() and record["torch"] == torch.__version__
    rows = record["rows"]
    assert set(rows) == {bench.REFERENCE, *bench.METHODS, *bench.JL1_ROWS}
    for row in rows.values():
        assert _positive_numbers([row["median_ms"], row["best_ms"], *row["block_ms"]])
    for method in bench.METHODS:
        assert _positive_numbers([record["methods"][method]["ours_ms"]])
        assert record["methods"][method]["tensorflow_ms"] is None
        assert record["methods"][method]["peer_ms"] is None
    assert record["tensorflow"] is None and record["peer"] is None
    floor = record["floor"]
    assert set(floor) == FLOOR_KEYS and floor["matmul_size"] == 256
    assert _positive_numbers(floor["matmul_gflops"].values())
    assert floor["peak_gflops"] == max(floor["matmul_gflops"].values())
    assert floor["matmul_gflops"][floor["peak_library"]] == floor["peak_gflops"]
    assert _positive_numbers([*floor["gflop_per_step"].values(), *floor["floor_ms"].values()])
    assert not list(path.parent.glob("*tmp*"))  # written atomically, no temporary left
