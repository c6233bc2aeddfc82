"""Metric hot paths: ours vs a plain reference implementation, in the same process.

    python benchmarks/bench_metrics.py            # MI at paper sizes; local MIG 0.1, 20 × 10,000
    python benchmarks/bench_metrics.py --quick    # a few seconds (CI)

1. The mutual-information step (d = 10 codes × F = 6 factors, N = 10,000 points): ours (all
   pairs counted by one ``np.bincount``) vs disentanglement_lib's loop of
   ``sklearn.metrics.mutual_info_score`` calls, at the global (20 bins, 64 factor values) and
   the local (5 bins, 13 factor values) sizes. Prints times, the ratio and max |Δ|.
2. One local-MIG config (locality 0.1) for a random-weight defaultConv model on three-dots:
   ours (local sampling, batched rendering and encoding by a frozen TorchScript module, the
   vectorised MI) vs the reference's structure: the same draws in chunks of 16 points, each
   image rendered on its own with OpenCV as the seed did (our renderer one image at a time if
   OpenCV is missing), each chunk encoded by the eager model, then the histogram discretiser
   and the sklearn loop per cluster. Same seed, same factors; prints times, the ratio and the
   largest difference of the per-cluster scores.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.metrics import mutual_info_score

from jlonevae_lib.evaluate import metrics, sampling
from jlonevae_lib.utils.allocator import tune_glibc_malloc
from jlonevae_lib.utils.timing import best_time, load_sibling


def sklearn_loop_mutual_info(codes_discrete: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """disentanglement_lib's ``discrete_mutual_info``: one sklearn call per (code, factor)."""
    m = np.zeros((codes_discrete.shape[0], factors.shape[0]))
    for i, code in enumerate(codes_discrete):
        for j, factor in enumerate(factors):
            m[i, j] = mutual_info_score(factor, code)
    return m


def bench_mutual_info(num_points: int, repeats: int) -> None:
    print(f"mutual information, 10 codes × 6 factors, {num_points:,} points")
    print(f"{'setting':<34}{'sklearn loop':>14}{'ours':>10}{'ratio':>9}{'max |Δ|':>11}")
    rs = np.random.RandomState(0)
    for label, num_bins, num_values in (("global (20 bins, 64 values)", 20, 64),
                                        ("local (5 bins, 13 values)", 5, 13)):
        factors = rs.randint(0, num_values, size=(6, num_points))
        codes = np.tanh(rs.randn(10, 6) @ (factors / num_values - 0.5)) + 0.3 * rs.randn(
            10, num_points)
        args = (metrics.histogram_discretize(codes, num_bins), factors)
        reference = sklearn_loop_mutual_info(*args)
        ours = metrics.discrete_mutual_info(*args)
        reference_s = best_time(lambda a=args: sklearn_loop_mutual_info(*a), repeats)
        ours_s = best_time(lambda a=args: metrics.discrete_mutual_info(*a), 3 * repeats)
        print(f"{label:<34}{reference_s * 1e3:>11.1f} ms{ours_s * 1e3:>7.2f} ms"
              f"{reference_s / ours_s:>8.1f}×{np.abs(ours - reference).max():>11.2g}")


def _reference_renderer() -> tuple[Callable[[np.ndarray], np.ndarray], str]:
    """The seed's per-image OpenCV renderer (from bench_rendering.py), else ours per image."""
    bench_rendering = load_sibling("bench_rendering", __file__)
    if bench_rendering.cv2 is not None:
        return bench_rendering.reference_render, "OpenCV, one image at a time"
    from jlonevae_lib.data.three_dots_render import render_three_dots

    def one_by_one(factors: np.ndarray) -> np.ndarray:
        return np.concatenate([render_three_dots(row[np.newaxis]) for row in factors])

    return one_by_one, "ours one image at a time (OpenCV not installed)"


def reference_local_mig(model: Any, num_points: int, num_clusters: int, locality: float,
                        seed: int, render: Callable[[np.ndarray], np.ndarray]) -> list[float]:
    """The reference's local MIG, written plainly in its structure (see the module note)."""
    import torch

    sizes = [64] * 6
    random_state = np.random.RandomState(seed)
    scores = []
    for _ in range(num_clusters):
        centroid = [random_state.randint(n) for n in sizes]
        codes, factors = [], []
        for start in range(0, num_points, 16):
            chunk = min(16, num_points - start)
            chunk_factors = np.zeros((chunk, 6), dtype=np.int64)
            for j, n in enumerate(sizes):
                radius = np.floor(n * locality)
                chunk_factors[:, j] = random_state.randint(
                    max(0, centroid[j] - radius), min(n - 1, centroid[j] + radius) + 1,
                    size=chunk, dtype=np.int32)
            images = np.moveaxis(render(chunk_factors), 3, 1)
            with torch.no_grad():
                codes.append(model.encode(torch.from_numpy(images).float())[0].numpy())
            factors.append(chunk_factors)
        mus, ys = np.vstack(codes).T, np.vstack(factors).T
        discrete = np.zeros_like(mus)
        for i in range(mus.shape[0]):
            discrete[i] = np.digitize(mus[i], np.histogram(mus[i], 5)[1][:-1])
        m = sklearn_loop_mutual_info(discrete, ys)
        entropy = np.array([mutual_info_score(y, y) for y in ys])
        sorted_m = np.sort(m, axis=0)[::-1]
        varying = entropy > 0
        scores.append(float(np.mean((sorted_m[0] - sorted_m[1])[varying] / entropy[varying])))
    return scores


def bench_local_mig(num_points: int, num_clusters: int, locality: float, seed: int) -> None:
    import torch

    from jlonevae_lib.architecture.save_model import save_conv_vae
    from jlonevae_lib.architecture.vae import build_conv_vae
    from jlonevae_lib.data import get_named_ground_truth_data
    from jlonevae_lib.evaluate.representation import load_representation

    torch.manual_seed(seed)
    model = build_conv_vae("defaultConv", im_channels=1, latent_dim=10).eval()
    data = get_named_ground_truth_data("threeDots")
    render, render_label = _reference_renderer()
    with tempfile.TemporaryDirectory() as folder:
        save_conv_vae(model, folder)
        represent = load_representation(folder, "cpu")

    def ours() -> list[float]:
        radii = sampling.local_radii(data.factors_num_values, locality, 10, ())
        clusters = sampling.local_codes(data, represent, num_points, num_clusters, radii,
                                        np.random.RandomState(seed))
        return metrics.local_mig(clusters, 5).per_cluster

    ours()  # warm-up: the renderer's table and the frozen module's first call
    start = time.perf_counter()
    ours_scores = ours()
    ours_s = time.perf_counter() - start
    start = time.perf_counter()
    reference_scores = reference_local_mig(model, num_points, num_clusters, locality, seed,
                                           render)
    reference_s = time.perf_counter() - start
    diff = max(abs(a - b) for a, b in zip(ours_scores, reference_scores, strict=True))
    images = num_points * num_clusters
    print(f"local MIG at locality {locality}: {num_clusters} clusters × {num_points:,} points "
          f"({images:,} images), random-weight defaultConv, seed {seed}")
    print(f"  reference (chunks of 16, rendering: {render_label}; eager model; sklearn loop): "
          f"{reference_s:.1f} s")
    print(f"  ours (batched rendering and frozen encoder, vectorised MI): {ours_s:.1f} s  "
          f"({reference_s / ours_s:.1f}×)")
    print(f"  mean local MIG: reference {np.mean(reference_scores):.6f}, "
          f"ours {np.mean(ours_scores):.6f}; max |Δ| per cluster {diff:.2g}"
          + ("" if math.isfinite(diff) else " (NaN)"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a few seconds")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    tune_glibc_malloc()
    warnings.filterwarnings("ignore", category=DeprecationWarning, module="torch")
    bench_mutual_info(10_000, repeats=1 if args.quick else 3)
    print()
    if args.quick:
        bench_local_mig(100, 2, 0.1, args.seed)
    else:
        bench_local_mig(10_000, 20, 0.1, args.seed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
