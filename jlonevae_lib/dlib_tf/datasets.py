"""Our three-dots datasets as named datasets of disentanglement_lib.

disentanglement_lib finds its data through one gin-configurable function,
``named_data.get_named_ground_truth_data`` (gin's ``dataset.name``), a fixed chain of
``if name == ...`` with no registry. :func:`install` teaches that function our names
(:data:`THREE_DOTS_NAMES`: ``threeDots``, ``threeDotsCache``, ``threeDotsCacheSmall``), so its
``train``, ``postprocess`` and ``evaluate`` read the same images as our own trainer and metrics;
its own names (``dsprites_full``, ``dummy_data``, ...) keep working.

How the hook works: gin keeps the undecorated function inside the closure of the wrapper it
registered (``gin_wrapper.__wrapped__`` is that function). :func:`install` swaps the function in
that closure cell for one that answers our names and hands every other name to the original.
The gin wrapper itself stays in place, so ``dataset.name`` is still injected by gin and still
recorded in the operative config (``results/gin/train.gin``, from which ``postprocess`` reads
``dataset.name = "auto"``). It is checked against gin-config 0.4.0, the pinned version; another
layout of gin's wrapper fails loudly rather than silently training on another dataset.

How images are drawn (:class:`DlibThreeDots`): disentanglement_lib's training input pipeline
asks for one observation at a time, ``sample_observations(1, random_state)``.

- ``threeDots``: factors drawn with disentanglement_lib's column-by-column ``randint`` and
  rendered anew (:meth:`jlonevae_lib.data.GroundTruthData.sample`).
- ``threeDotsCache`` / ``threeDotsCacheSmall``: cached images chosen with
  ``random_state.choice(N, (num,))``, as the reference's ``ThreeDotsTrainingCache`` did; the cache
  (``<data root>/threeDots/trainingCache<N>.npz``, see :mod:`jlonevae_lib.data.cache`) is loaded,
  and built if missing, on the first draw, never at construction (disentanglement_lib builds the
  dataset twice per training run). Evaluation (factors → images) renders anew, as ours does.
"""

from __future__ import annotations

import numpy as np
from disentanglement_lib.data.ground_truth import ground_truth_data, named_data

from jlonevae_lib.data import GroundTruthData as OurGroundTruthData
from jlonevae_lib.data import ThreeDotsCache, get_named_ground_truth_data
from jlonevae_lib.data.three_dots_render import levels_to_images
from jlonevae_lib.dlib_tf.study import THREE_DOTS_NAMES
from jlonevae_lib.utils.errors import JLoneVAEError

#: Marks our replacement of gin's wrapped function, holding the original.
_ORIGINAL = "_jlonevae_original"


class DlibThreeDots(ground_truth_data.GroundTruthData):
    """One of our three-dots datasets behind disentanglement_lib's ``GroundTruthData``.

    Factors int64 (N, 6), observations float32 (N, 64, 64, 1) in [0, 1], exactly our dataset's.
    """

    def __init__(self, ours: OurGroundTruthData) -> None:
        self.ours = ours

    @property
    def num_factors(self) -> int:
        return self.ours.num_factors

    @property
    def factors_num_values(self) -> list[int]:
        return self.ours.factors_num_values

    @property
    def observation_shape(self) -> list[int]:
        # A list, as disentanglement_lib's own datasets give it (its hub export concatenates it).
        return list(self.ours.observation_shape)

    def sample_factors(self, num: int, random_state: np.random.RandomState) -> np.ndarray:
        """int64 (num, 6), drawn column by column (disentanglement_lib's order)."""
        return self.ours.sample_factors(num, random_state)

    def sample_observations_from_factors(self, factors: np.ndarray,
                                         random_state: np.random.RandomState) -> np.ndarray:
        """factors (N, 6) → float32 (N, 64, 64, 1), rendered."""
        return self.ours.sample_observations_from_factors(factors, random_state)

    def sample_observations(self, num: int, random_state: np.random.RandomState) -> np.ndarray:
        """float32 (num, 64, 64, 1): cached images for a cache dataset, else rendered ones."""
        if isinstance(self.ours, ThreeDotsCache):
            levels = self.ours.training_levels()
            return levels_to_images(levels[random_state.choice(len(levels), (num,))])
        return self.ours.sample_observations(num, random_state)


def three_dots_dataset(name: str) -> DlibThreeDots:
    """Our dataset ``name`` (one of :data:`THREE_DOTS_NAMES`) as disentanglement_lib's."""
    if name not in THREE_DOTS_NAMES:
        raise JLoneVAEError(f"unknown three-dots dataset {name!r}: choose one of "
                            f"{', '.join(THREE_DOTS_NAMES)}")
    return DlibThreeDots(get_named_ground_truth_data(name))


def _function_cell(gin_wrapper):
    """The closure cell ``fn`` of gin's wrapper: the undecorated function it calls."""
    wrapped = getattr(gin_wrapper, "__wrapped__", None)
    names = gin_wrapper.__code__.co_freevars
    if wrapped is None or "fn" not in names:
        raise RuntimeError("disentanglement_lib's named_data.get_named_ground_truth_data is not "
                           "the gin-config 0.4 wrapper this hook expects; rebuild .venv-dlib "
                           "with experimentScripts/train_baseline/build_dlib_env.bash")
    cell = gin_wrapper.__closure__[names.index("fn")]
    if cell.cell_contents is not wrapped and not hasattr(cell.cell_contents, _ORIGINAL):
        raise RuntimeError("disentanglement_lib's named_data.get_named_ground_truth_data calls "
                           "an unexpected function; rebuild .venv-dlib")
    return cell


def install() -> None:
    """Make :data:`THREE_DOTS_NAMES` resolve in disentanglement_lib's named datasets.

    Idempotent. Affects this process only.
    """
    cell = _function_cell(named_data.get_named_ground_truth_data)
    if hasattr(cell.cell_contents, _ORIGINAL):
        return
    original = cell.cell_contents

    def get_named_ground_truth_data_with_three_dots(name):
        if name in THREE_DOTS_NAMES:
            return three_dots_dataset(name)
        return original(name)

    setattr(get_named_ground_truth_data_with_three_dots, _ORIGINAL, original)
    cell.cell_contents = get_named_ground_truth_data_with_three_dots


def installed() -> bool:
    """Whether :func:`install` has run in this process."""
    return hasattr(_function_cell(named_data.get_named_ground_truth_data).cell_contents,
                   _ORIGINAL)
