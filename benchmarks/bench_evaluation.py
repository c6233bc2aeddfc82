"""The paper's full evaluation suite (its metric configs) for one three-dots model, timed.

    python benchmarks/bench_evaluation.py                 # random-weight defaultConv model
    python benchmarks/bench_evaluation.py --run RUN       # a trained run (copied, not modified)
    python benchmarks/bench_evaluation.py --quick         # the same configs, tiny sizes (CI)

Runs ``jlonevae-evaluate`` in this process on a temporary copy of the run and prints the time
of each metric and the total against the target (:data:`TARGET_SECONDS`, 2-core CPU). Metrics that
share a draw (local MIG and local modularity at one locality; global MIG and modularity's
training points) encode it once, so their second member costs almost nothing. The rates of the
two stages every point goes through, rendering and encoding, are printed for reference.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from jlonevae_lib.runs import layout
from jlonevae_lib.utils.allocator import tune_glibc_malloc

TARGET_SECONDS = 150.0
QUICK_POINTS, QUICK_CLUSTERS, QUICK_GLOBAL_POINTS = 200, 2, 400


def make_random_run(folder: Path, seed: int) -> Path:
    """A finished run folder holding a random-weight defaultConv model (10 latents)."""
    import torch

    from jlonevae_lib.architecture.save_model import save_conv_vae
    from jlonevae_lib.architecture.vae import build_conv_vae

    torch.manual_seed(seed)
    save_conv_vae(build_conv_vae("defaultConv", im_channels=1, latent_dim=10).eval(),
                  layout.saved_model_dir(folder, 1))
    layout.config_path(folder).write_text(json.dumps({"dataset": "threeDots"}))
    layout.done_path(folder).write_text("")
    return folder


def copy_run(run: Path, folder: Path) -> Path:
    """Copy what evaluation reads (config, marker, representation), not earlier metrics."""
    folder.mkdir(parents=True)
    for name in (layout.CONFIG_FILE, layout.DONE_FILE):
        if (run / name).is_file():
            shutil.copy2(run / name, folder / name)
    shutil.copytree(layout.representation_dir(run), layout.representation_dir(folder))
    return folder


def quick_configs(folder: Path, metrics: tuple[str, ...]) -> list[str]:
    """Each paper config included by absolute path, with tiny sizes."""
    from jlonevae_lib.evaluate.evaluation import METRICS_CONFIG_DIR

    paths = []
    for name in metrics:
        lines = [f"include '{METRICS_CONFIG_DIR / f'{name}.gin'}'"]
        if name.startswith("local_"):
            metric = "local_mig" if "mig" in name else "local_modularity"
            lines += [f"{metric}.num_train = {QUICK_POINTS}",
                      f"{metric}.num_local_clusters = {QUICK_CLUSTERS}"]
        else:
            lines.append(f"{name}.num_train = {QUICK_GLOBAL_POINTS}")
            if name == "modularity_explicitness":
                lines.append(f"{name}.num_test = {QUICK_GLOBAL_POINTS // 2}")
        path = folder / f"{name}.gin"
        path.write_text("\n".join(lines) + "\n")
        paths.append(str(path))
    return paths


def stage_rates(run: Path, num_images: int, device: str) -> tuple[float, float]:
    """Images/s of rendering three-dots and of encoding them, measured separately."""
    from jlonevae_lib.data import get_named_ground_truth_data
    from jlonevae_lib.evaluate.representation import find_representation, load_representation

    data = get_named_ground_truth_data("threeDots")
    random_state = np.random.RandomState(0)
    factors = data.sample_factors(num_images, random_state)
    data.sample_observations_from_factors(factors[:10], random_state)  # builds the dot table
    start = time.perf_counter()
    observations = data.sample_observations_from_factors(factors, random_state)
    render = num_images / (time.perf_counter() - start)
    represent = load_representation(find_representation(run), device)
    represent(observations[:10])
    start = time.perf_counter()
    represent(observations)
    return render, num_images / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, a few seconds")
    parser.add_argument("--run", type=Path, default=None,
                        help="a trained run folder (default: a random-weight model)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda")
    parser.add_argument("--seed", type=int, default=0, help="weights of the random model")
    args = parser.parse_args(argv)
    tune_glibc_malloc()
    from jlonevae_lib.cli import evaluate as evaluate_cli
    from jlonevae_lib.runs.metric_table import PAPER_METRICS

    with tempfile.TemporaryDirectory() as root:
        root_path = Path(root)
        run = (copy_run(args.run, root_path / "run") if args.run is not None
               else make_random_run(root_path / "run", args.seed))
        metrics = (quick_configs(root_path, PAPER_METRICS) if args.quick
                   else list(PAPER_METRICS))
        render, encode = stage_rates(run, 500 if args.quick else 10_000, args.device)
        start = time.perf_counter()
        evaluate_cli.main([str(run), "--metrics", *metrics, "--device", args.device])
        total = time.perf_counter() - start
    sizes = (f"{QUICK_CLUSTERS} clusters × {QUICK_POINTS} points, {QUICK_GLOBAL_POINTS} global"
             if args.quick else "20 clusters × 10,000 points, 10,000 (+5,000) global")
    print()
    print(f"paper suite, {len(metrics)} metrics ({sizes}): {total:.1f} s in total"
          + ("" if args.quick else f" (target ≤ {TARGET_SECONDS:.0f} s: "
                                   f"{'met' if total <= TARGET_SECONDS else 'NOT met'})"))
    print(f"stages: rendering {render:,.0f} images/s, encoding {encode:,.0f} images/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
