"""Three-dots rendering and training caches: ours vs the reference's per-image OpenCV drawing.

    python benchmarks/bench_rendering.py            # 5,000 images, 100,000-image cache
    python benchmarks/bench_rendering.py --quick    # a few seconds (CI)

Renders the same random factors with the seed's per-image ``cv2.circle`` + ``INTER_AREA``
reference (skipped, with a note, if OpenCV is not installed) and with
:func:`jlonevae_lib.data.three_dots_render.render_three_dots` in the same process, and prints
images/s, the speed ratio and the largest pixel difference; then times building, writing and
loading (with validation) a training cache of ``--cache-images`` images in a temporary folder, and
the streamed build (render and write chunk by chunk, as the cache CLI does).
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np

from jlonevae_lib.data.cache import (
    build_training_cache,
    load_training_cache,
    save_training_cache,
    write_training_cache,
)
from jlonevae_lib.data.three_dots_render import dot_table, render_three_dots
from jlonevae_lib.utils.timing import best_time

try:
    import cv2
except ImportError:  # OpenCV is a test-only dependency
    cv2 = None


def reference_render(factors: np.ndarray) -> np.ndarray:
    """The seed's renderer, one image at a time: factors (N, 6) → float32 (N, 64, 64, 1)."""
    images = np.zeros((len(factors), 64, 64, 1), dtype=np.float32)
    up_radius = int(64 * 0.08 * 10 * 2**10)
    for i, row in enumerate(factors):
        canvas = np.ones((640, 640, 1))
        for centre in row.reshape(3, 2) / 63:
            up_centre = np.floor(64 * centre * 10 * 2**10).astype(int)
            cv2.circle(canvas, tuple(int(c) for c in up_centre), up_radius, color=0,
                       thickness=-1, shift=10)
        images[i, :, :, 0] = cv2.resize(canvas, (64, 64), interpolation=cv2.INTER_AREA)
    return images


def bench_rendering(num_images: int, repeats: int, seed: int) -> None:
    factors = np.random.RandomState(seed).randint(64, size=(num_images, 6))
    table_seconds = best_time(dot_table, 1)
    ours = render_three_dots(factors)
    ours_rate = num_images / best_time(lambda: render_three_dots(factors), repeats)
    print(f"three-dots rendering, {num_images:,} images (factors from RandomState({seed}))")
    print(f"{'method':<32}{'images/s':>12}{'ratio':>9}{'max |Δ|':>10}")
    if cv2 is None:
        print("reference: OpenCV not installed (pip install opencv-python-headless); skipped")
        print(f"{'ours (vectorised numpy)':<32}{ours_rate:>12,.0f}{'-':>9}{'-':>10}")
    else:
        reference = reference_render(factors)
        ref_rate = num_images / best_time(lambda: reference_render(factors), 1)
        max_diff = float(np.abs(ours.astype(np.float64) - reference).max())
        print(f"{'reference (cv2, per image)':<32}{ref_rate:>12,.0f}{1:>8.1f}×{0:>10.3g}")
        print(f"{'ours (vectorised numpy)':<32}{ours_rate:>12,.0f}{ours_rate / ref_rate:>8.1f}×"
              f"{max_diff:>10.3g}")
    print(f"dot table (built once per process): {table_seconds:.2f} s")


def bench_cache(num_images: int) -> None:
    start = time.perf_counter()
    cache = build_training_cache(num_images)
    build_seconds = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as root:
        path = f"{root}/threeDots/trainingCache{num_images}.npz"
        write_seconds = best_time(lambda: save_training_cache(path, cache), 1)
        load_seconds = best_time(lambda: load_training_cache(num_images, root=root), 1)
        streamed_seconds = best_time(lambda: write_training_cache(path, num_images), 1)
    per_image = cache.imgs.nbytes // num_images
    print(f"training cache, {num_images:,} images: build {build_seconds:.2f} s, "
          f"write {write_seconds:.2f} s, load+validate {load_seconds:.2f} s; "
          f"{per_image:,} bytes/image in memory (float32 would be {4 * per_image:,}); "
          f"streamed build+write (the cache CLI's) {streamed_seconds:.2f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="small sizes, finishes in a few seconds")
    parser.add_argument("--num-images", type=int, default=None,
                        help="images to render (default 5000; 300 with --quick)")
    parser.add_argument("--cache-images", type=int, default=None,
                        help="training-cache size to build (default 100000; 2000 with --quick)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    num_images = args.num_images or (300 if args.quick else 5000)
    cache_images = args.cache_images or (2000 if args.quick else 100_000)
    bench_rendering(num_images, repeats=2 if args.quick else 5, seed=args.seed)
    bench_cache(cache_images)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
