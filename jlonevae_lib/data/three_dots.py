"""The three-dots datasets: ``threeDots`` (images rendered anew) and the cached training sets.

``threeDots`` renders every image from its factors with the OpenCV-exact rasteriser of
:mod:`jlonevae_lib.data.three_dots_render`; ``threeDotsCache`` (the paper's 500,000 images) and
``threeDotsCacheSmall`` (20,000) draw their training batches from a cache file
(:mod:`jlonevae_lib.data.cache`) and render evaluation images anew. Factors are
``(x0, y0, x1, y1, x2, y2)``, each in 0..granularity−1.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np

from jlonevae_lib.data.ground_truth import (
    CompactBatch,
    GroundTruthData,
    register_ground_truth_data,
    to_nchw,
)
from jlonevae_lib.data.ground_truth import data_root as default_data_root
from jlonevae_lib.data.three_dots_render import (
    DEFAULT_GRANULARITY,
    DEFAULT_IMAGE_SIDE,
    LEVEL_STEP,
    NUM_FACTORS,
    check_granularity,
    levels_to_images,
    render_three_dots,
)

#: Training-cache sizes of the paper (``threeDotsCache``) and the small example.
PAPER_CACHE_IMAGES = 500_000
SMALL_CACHE_IMAGES = 20_000


@register_ground_truth_data("threeDots")
class ThreeDots(GroundTruthData):
    """Procedural three-dots: 6 factors with ``granularity`` values each, images rendered anew.

    Training batches are fresh random factors drawn from the training generator and rendered.
    ``data_root`` is accepted for a uniform constructor signature; no file is read.
    """

    def __init__(self, granularity: int = DEFAULT_GRANULARITY,
                 data_root: str | os.PathLike | None = None) -> None:
        check_granularity(granularity)
        self.granularity = granularity

    @property
    def num_factors(self) -> int:
        return NUM_FACTORS

    @property
    def factors_num_values(self) -> list[int]:
        return [self.granularity] * NUM_FACTORS

    @property
    def observation_shape(self) -> tuple[int, int, int]:
        return (DEFAULT_IMAGE_SIDE, DEFAULT_IMAGE_SIDE, 1)

    def sample_observations_from_factors(self, factors: np.ndarray,
                                         random_state: np.random.RandomState) -> np.ndarray:
        """factors (N, 6) → float32 (N, 64, 64, 1); deterministic, ``random_state`` is unused."""
        return render_three_dots(factors, self.granularity)


class ThreeDotsCache(ThreeDots):
    """Three-dots whose training batches are drawn from a cache of ``num_images`` images.

    Evaluation (``sample``, ``sample_observations_from_factors``) still renders fresh images from
    any factors. The cache (see :mod:`jlonevae_lib.data.cache`) is loaded, and built if
    missing, on the first training batch, so constructing the dataset is cheap. ``cache_path``
    names an explicit cache file, refused if invalid; otherwise the cache lives under
    ``data_root`` (default: :func:`~jlonevae_lib.data.ground_truth.data_root` at construction).
    """

    def __init__(self, num_images: int, data_root: str | os.PathLike | None = None,
                 cache_path: str | os.PathLike | None = None) -> None:
        super().__init__()
        self.num_images = num_images
        self.data_root = default_data_root(data_root)
        self.cache_path = None if cache_path is None else Path(cache_path)
        self._levels: np.ndarray | None = None

    def training_levels(self) -> np.ndarray:
        """The cached grey levels, uint8 (N, 64, 64, 1); loads (or builds) them on first call."""
        if self._levels is None:
            # Imported here: the cache module imports this one, and importing the package must
            # not import it (``python -m jlonevae_lib.data.cache`` would run it twice).
            from jlonevae_lib.data.cache import load_training_cache

            self._levels = load_training_cache(self.num_images, self.data_root,
                                               self.cache_path).imgs
        return self._levels

    def sample_training_batch(self, batch_size: int, rng: np.random.Generator) -> np.ndarray:
        """Cached images drawn uniformly with replacement: float32 (B, 1, 64, 64) in [0, 1]."""
        levels = self.training_levels()
        return to_nchw(levels_to_images(levels[rng.integers(0, len(levels), size=batch_size)]))

    def sample_training_batch_compact(self, batch_size: int,
                                      rng: np.random.Generator) -> CompactBatch:
        """The same draw as :meth:`sample_training_batch`, as the cache's uint8 grey levels
        (B, 1, 64, 64) and the float32 step that turns them into those images."""
        levels = self.training_levels()
        return CompactBatch(to_nchw(levels[rng.integers(0, len(levels), size=batch_size)]),
                            LEVEL_STEP)


# The caches hold training images only: their runs are scored on freshly rendered images.
register_ground_truth_data("threeDotsCache", evaluated_on="threeDots")(
    functools.partial(ThreeDotsCache, num_images=PAPER_CACHE_IMAGES))
register_ground_truth_data("threeDotsCacheSmall", evaluated_on="threeDots")(
    functools.partial(ThreeDotsCache, num_images=SMALL_CACHE_IMAGES))
