"""Training data loading: the time to draw one batch, ours vs the reference's way, and its share
of a training step.

    python benchmarks/bench_data_loading.py            # 500,000-image cache (built if missing)
    python benchmarks/bench_data_loading.py --quick    # a 2,000-image cache in a temp folder (CI)

Two training datasets of three-dots (docs/formats.md):

- ``threeDotsCache``: batches drawn uniformly with replacement from the cache. Ours holds uint8
  grey levels (1 byte/pixel) and converts the drawn batch to float32; the reference held the
  float32 images (4 bytes/pixel: 8 GB for 500,000, so the reference column draws from a float32
  copy of the first ``--reference-images`` images) and indexed them.
- ``threeDots``: every batch rendered anew from random factors. Ours: the vectorised renderer;
  the reference: OpenCV, one image at a time (as in bench_rendering.py; skipped without cv2).

Then each dataset feeds real ``Trainer.training_step`` calls (the trainer's model, optimiser
and penalty; β = 4, γ = 0.1 from the first step, lr 1e-4) for three steps: plain (γ = 0), FD
on the full batch, FD on a sub-batch of 16; the draw's share of each step is printed. Also the
cache's load time and the process's peak RSS after loading it. The allocator and OpenMP are
set up as the training CLI sets them (JLONEVAE_MALLOC_TUNING=0 / JLONEVAE_OMP_TUNING=0: not).
"""

from __future__ import annotations

import os

from jlonevae_lib.utils.timing import tune_benchmark_process

MALLOC_TUNED = tune_benchmark_process(os.environ)  # before torch is imported

import argparse  # noqa: E402
import resource  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from jlonevae_lib.data.ground_truth import TrainingData, to_nchw  # noqa: E402
from jlonevae_lib.data.three_dots import (  # noqa: E402
    PAPER_CACHE_IMAGES,
    ThreeDots,
    ThreeDotsCache,
)
from jlonevae_lib.data.three_dots_render import levels_to_images  # noqa: E402
from jlonevae_lib.train.config import TrainConfig  # noqa: E402
from jlonevae_lib.train.trainer import Trainer  # noqa: E402
from jlonevae_lib.utils.timing import load_sibling, median_time  # noqa: E402

QUICK_CACHE_IMAGES = 2_000
STEP_KINDS = {  # name: (gamma, jacobian_batch)
    "plain": (0.0, None),
    "fd": (0.1, None),
    "fd-sub16": (0.1, 16),
}


def median_ms(fn: Callable[[], object], repeats: int) -> float:
    return 1e3 * median_time(fn, repeats)


def peak_rss_gb() -> float:
    """This process's peak resident set size so far, in GB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9


def reference_renderer() -> Callable[[np.ndarray], np.ndarray] | None:
    """bench_rendering.py's OpenCV reference renderer, or None without OpenCV."""
    module = load_sibling("bench_rendering", __file__)
    return None if module.cv2 is None else module.reference_render


def draw_times(dataset: TrainingData, batch_size: int, repeats: int, reference_images: int
               ) -> tuple[float, float | None, str]:
    """(ours ms/batch, reference ms/batch or None, what the reference is)."""
    rng = np.random.default_rng(0)
    ours = median_ms(lambda: dataset.sample_training_batch(batch_size, rng), repeats)
    if isinstance(dataset, ThreeDotsCache):
        levels = dataset.training_levels()
        count = min(reference_images, len(levels))
        images = levels_to_images(levels[:count])  # float32 (count, 64, 64, 1), as stored

        def reference_draw() -> np.ndarray:
            return to_nchw(images[rng.integers(0, count, size=batch_size)])

        reference = median_ms(reference_draw, repeats)
        del images
        return ours, reference, f"float32 array of {count:,} images, indexed"
    render = reference_renderer()
    if render is None:
        return ours, None, "OpenCV per image: not installed, skipped"

    def reference_render() -> np.ndarray:
        factors = np.stack([rng.integers(0, n, size=batch_size)
                            for n in dataset.factors_num_values], axis=1)
        return to_nchw(render(factors))

    return ours, median_ms(reference_render, max(1, repeats // 4)), "OpenCV, one image at a time"


def step_times(dataset: TrainingData, batch_size: int, steps: int, folder: Path
               ) -> dict[str, float]:
    """Median ms of Trainer.training_step (which draws its batch from ``dataset``) for each
    step kind."""
    results = {}
    for kind, (gamma, jacobian_batch) in STEP_KINDS.items():
        config = TrainConfig(dataset="threeDots", gamma=gamma, jacobian_batch=jacobian_batch,
                             batch_size=batch_size, num_batches=steps + 1, lr=1e-4,
                             annealing_batches=0, device="cpu", output_dir=str(folder))
        trainer = Trainer(config)
        trainer.dataset = dataset  # the same images as the name would give, already loaded
        trainer.training_step()  # warm-up
        results[kind] = median_ms(trainer.training_step, steps)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"a {QUICK_CACHE_IMAGES:,}-image cache in a temporary folder, "
                             "batch 8, few repeats (CI)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--draws", type=int, default=200, help="timed batch draws")
    parser.add_argument("--steps", type=int, default=5, help="timed training steps per kind")
    parser.add_argument("--reference-images", type=int, default=100_000,
                        help="images in the reference's float32 copy of the cache")
    args = parser.parse_args(argv)
    if args.quick:
        args.batch_size, args.draws, args.steps, args.reference_images = 8, 10, 1, 1_000

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        cache = (ThreeDotsCache(QUICK_CACHE_IMAGES, data_root=folder / "data") if args.quick
                 else ThreeDotsCache(PAPER_CACHE_IMAGES))
        start = time.perf_counter()
        cache.training_levels()  # load (or build) it
        load_seconds = time.perf_counter() - start
        rss_after_load = peak_rss_gb()
        datasets = {"threeDotsCache": cache, "threeDots": ThreeDots()}

        print(f"training data loading, batch {args.batch_size}, {torch.get_num_threads()} torch "
              f"threads; glibc malloc tuned: {MALLOC_TUNED}")
        print(f"cache: {cache.num_images:,} images, loaded and validated in {load_seconds:.1f} s, "
              f"peak RSS after loading {rss_after_load:.2f} GB")
        header = (f"{'dataset':<16}{'ours ms/batch':>14}{'ref ms/batch':>13}{'ratio':>8}   "
                  + "".join(f"{'% of ' + kind + ' step':>19}" for kind in STEP_KINDS))
        lines = [header, "-" * len(header)]
        notes = []
        for name, dataset in datasets.items():
            ours, reference, what = draw_times(dataset, args.batch_size, args.draws,
                                               args.reference_images)
            steps = step_times(dataset, args.batch_size, args.steps, folder)
            shares = "".join(f"{100 * ours / ms:>9.2f}% of {ms:>5.0f}ms" for ms in steps.values())
            ref_text = f"{reference:>13.2f}{reference / ours:>7.1f}×" if reference else (
                f"{'-':>13}{'-':>8}")
            lines.append(f"{name:<16}{ours:>14.2f}{ref_text}   {shares}")
            notes.append(f"  {name}: reference = {what}")
        print("\n".join(lines + notes))
        print(f"peak RSS of this process: {peak_rss_gb():.2f} GB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
