"""Training-data and ground-truth dataset interfaces, a name registry and the data root.

:class:`TrainingData` is what training needs: an image shape and a batch sampler. Natural-image
patches are only that. :class:`GroundTruthData` (disentanglement_lib's interface) extends it
with known factors of variation, which the disentanglement metrics need. The registry holds
both; :func:`lacks_ground_truth_factors` tells them apart by name, without building the dataset.

A ground-truth dataset maps integer factors (N, F) to images. Evaluation uses
disentanglement_lib's methods with a ``numpy.random.RandomState``, in its exact order, so metric
samples are reproducible bit for bit; training uses :meth:`TrainingData.sample_training_batch`
with a ``numpy.random.Generator`` and gets NCHW float32 batches ready for ``torch.from_numpy``.
"""

from __future__ import annotations

import abc
import importlib
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from jlonevae_lib.utils.errors import JLoneVAEError
from jlonevae_lib.utils.plugins import DATASETS, PLUGIN_HINT, is_redefinition, load_plugins

#: Environment variable naming the data folder, as in disentanglement_lib.
DATA_ROOT_ENV = "DISENTANGLEMENT_LIB_DATA"


def data_root(root: str | os.PathLike | None = None) -> Path:
    """The data folder: ``root`` if given, else ``$DISENTANGLEMENT_LIB_DATA`` if set, else
    ``data`` (relative to cwd)."""
    if root is not None:
        return Path(root)
    return Path(os.environ.get(DATA_ROOT_ENV) or "data")


class TrainingData(abc.ABC):
    """Images to train on: their shape and a batch sampler (factors are not needed)."""

    @property
    @abc.abstractmethod
    def image_shape(self) -> tuple[int, int, int]:
        """Shape (C, H, W) of one training image."""

    @abc.abstractmethod
    def sample_training_batch(self, batch_size: int, rng: np.random.Generator) -> np.ndarray:
        """A training batch float32 (B, C, H, W) in [0, 1], drawn with ``rng``."""

    def sample_training_batch_compact(self, batch_size: int,
                                      rng: np.random.Generator) -> CompactBatch:
        """The batch :meth:`sample_training_batch` would draw (same ``rng`` use), in the smallest
        form the dataset keeps it: a GPU trainer copies that and expands it on the device
        (a uint8 cache moves a quarter of the bytes of its float32 images). By default the
        float32 batch itself."""
        return CompactBatch(self.sample_training_batch(batch_size, rng))


class CompactBatch:
    """A training batch as stored: ``images`` (B, C, H, W), float32 in [0, 1], or integer
    levels whose images are ``levels.astype(float32) * scale`` (one IEEE float32 product per
    pixel, which any device computes to the same bits; the trainer's ``expand_batch``)."""

    def __init__(self, images: np.ndarray, scale: np.float32 | None = None) -> None:
        if scale is None and images.dtype != np.float32:
            raise ValueError(f"a batch without a scale must be float32, not {images.dtype}")
        self.images = images
        self.scale = scale


class GroundTruthData(TrainingData):
    """A dataset with known factors of variation (disentanglement_lib's ``GroundTruthData``)."""

    @property
    @abc.abstractmethod
    def num_factors(self) -> int:
        """Number of factors F."""

    @property
    @abc.abstractmethod
    def factors_num_values(self) -> list[int]:
        """Number of values n_j of each factor; factor j takes the values 0..n_j−1."""

    @property
    @abc.abstractmethod
    def observation_shape(self) -> tuple[int, int, int]:
        """Shape (H, W, C) of one observation."""

    @abc.abstractmethod
    def sample_observations_from_factors(self, factors: np.ndarray,
                                         random_state: np.random.RandomState) -> np.ndarray:
        """factors (N, F) ints → observations float32 (N, H, W, C) in [0, 1]."""

    def sample_factors(self, num: int, random_state: np.random.RandomState) -> np.ndarray:
        """Uniform factors, int64 (num, F), drawn column by column with ``randint(n_j)``.

        The order of draws is disentanglement_lib's, so the same ``random_state`` gives the
        same factors (and the same metric samples) as the reference.
        """
        factors = np.zeros((num, self.num_factors), dtype=np.int64)
        for j, num_values in enumerate(self.factors_num_values):
            factors[:, j] = random_state.randint(num_values, size=num)
        return factors

    def sample(self, num: int, random_state: np.random.RandomState
               ) -> tuple[np.ndarray, np.ndarray]:
        """(factors int64 (num, F), observations float32 (num, H, W, C))."""
        factors = self.sample_factors(num, random_state)
        return factors, self.sample_observations_from_factors(factors, random_state)

    def sample_observations(self, num: int, random_state: np.random.RandomState) -> np.ndarray:
        """Observations float32 (num, H, W, C) of uniformly sampled factors."""
        return self.sample(num, random_state)[1]

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """Shape (C, H, W) of one training image."""
        height, width, channels = self.observation_shape
        return (channels, height, width)

    def sample_training_batch(self, batch_size: int, rng: np.random.Generator) -> np.ndarray:
        """A training batch float32 (B, C, H, W) in [0, 1].

        By default: factors drawn uniformly with ``rng.integers`` (column by column), then
        observed with a ``RandomState`` seeded from ``rng``. Datasets with a training cache
        override this to draw cached images.
        """
        factors = np.stack([rng.integers(0, n, size=batch_size) for n in self.factors_num_values],
                           axis=1)
        random_state = np.random.RandomState(rng.integers(2**32, dtype=np.uint64))
        return to_nchw(self.sample_observations_from_factors(factors, random_state))


def to_nchw(observations: np.ndarray) -> np.ndarray:
    """(N, H, W, C) → C-contiguous (N, C, H, W) (no copy when C = 1)."""
    return np.ascontiguousarray(observations.transpose(0, 3, 1, 2))


DatasetFactory = TypeVar("DatasetFactory", bound=Callable[..., TrainingData])
_REGISTRY: dict[str, Callable[..., TrainingData]] = {}
#: Registered names whose datasets have no ground-truth factors (training data only).
_WITHOUT_FACTORS: set[str] = set()
#: The dataset each dataset's runs are scored on, where it is another
#: (:func:`register_ground_truth_data`'s ``evaluated_on``).
_EVALUATED_ON: dict[str, str] = {}
#: A registered dataset's own evaluation config (a plug-in's ``.gin``), where it gives one
#: (:func:`register_ground_truth_data`'s ``dataset_config``).
_DATASET_CONFIGS: dict[str, Path] = {}
#: Modules that register the package's own datasets, imported on the first lookup. The package
#: does not import them up front: some are also ``python -m`` targets, and runpy warns about
#: (and runs a second copy of) a module its package has already imported.
BUILTIN_MODULES = ("jlonevae_lib.data.three_dots", "jlonevae_lib.data.mpi3d",
                   "jlonevae_lib.data.natural_images")
#: Other names of registered datasets, accepted wherever a dataset name is: the reference's
#: MPI3D script exported ``AICROWD_DATASET_NAME=mpi3d_multi_real`` for ``mpi3dMulti``.
DATASET_ALIASES = {"mpi3d_multi_real": "mpi3dMulti"}


def _register(name: str, factory: DatasetFactory, has_factors: bool) -> DatasetFactory:
    if name in DATASET_ALIASES or (name in _REGISTRY
                                   and not is_redefinition(_REGISTRY[name], factory)):
        raise ValueError(f"dataset name {name!r} is already registered")
    _REGISTRY[name] = factory
    _WITHOUT_FACTORS.discard(name)
    _EVALUATED_ON.pop(name, None)  # the new definition's registration says again
    _DATASET_CONFIGS.pop(name, None)
    if not has_factors:
        _WITHOUT_FACTORS.add(name)
    return factory


def register_ground_truth_data(name: str, evaluated_on: str | None = None,
                               dataset_config: str | os.PathLike | None = None
                               ) -> Callable[[DatasetFactory], DatasetFactory]:
    """Decorator: make a :class:`GroundTruthData` class (or factory) available under ``name``.

    ``evaluated_on``: the dataset its runs are scored on, when not this one (a cache of
    training images, such as ``threeDotsCache``, is scored on freshly rendered ``threeDots``).
    ``dataset_config``: the ``.gin`` file its runs are evaluated with (``dataset.name`` and
    the factors the local metrics hold fixed), for a dataset whose config does not ship with
    the package; evaluation and sweeps then find it by the dataset's name (docs/plugins.md).
    A relative path is taken from the folder of the module that defines the dataset (the
    working directory for one defined in a notebook), not from wherever a later process
    happens to run.
    """
    def register(factory: DatasetFactory) -> DatasetFactory:
        config = None if dataset_config is None else _beside_module(factory, dataset_config)
        _register(name, factory, has_factors=True)
        # Only once the name is taken: a refused registration changes nothing.
        if evaluated_on is not None:
            _EVALUATED_ON[name] = evaluated_on
        if config is not None:
            _DATASET_CONFIGS[name] = config
        return factory

    return register


def evaluation_dataset_name(name: str) -> str:
    """The dataset that runs trained on dataset ``name`` (or an alias) are scored on."""
    _load_builtins()
    name = canonical_dataset_name(name)
    return _EVALUATED_ON.get(name, name)


def _beside_module(factory: object, path: str | os.PathLike) -> Path:
    """``path`` made absolute: a relative one from the folder of ``factory``'s module file
    (a script's own folder too), else (a notebook's ``__main__`` has no file) from the
    working directory."""
    path = Path(path)
    if path.is_absolute():
        return path
    module_file = getattr(sys.modules.get(getattr(factory, "__module__", "")), "__file__", None)
    return (Path(module_file).parent / path if module_file else path).resolve()


def registered_dataset_config(name: str) -> Path | None:
    """The evaluation config that dataset ``name``'s registration gave, else None."""
    _load_builtins()
    return _DATASET_CONFIGS.get(canonical_dataset_name(name))


def register_training_data(name: str) -> Callable[[DatasetFactory], DatasetFactory]:
    """Decorator: make a :class:`TrainingData` class without factors available under ``name``."""
    return lambda factory: _register(name, factory, has_factors=False)


def _load_builtins() -> None:
    for module in BUILTIN_MODULES:
        importlib.import_module(module)
    load_plugins(DATASETS)


def available_datasets() -> list[str]:
    """Registered dataset names and their aliases, sorted."""
    _load_builtins()
    return sorted(set(_REGISTRY) | set(DATASET_ALIASES))


def canonical_dataset_name(name: str) -> str:
    """The registered name behind ``name``: itself, or the dataset an alias stands for."""
    return DATASET_ALIASES.get(name, name)


def check_dataset(name: str) -> None:
    """Raise :class:`JLoneVAEError` naming the known datasets if ``name`` is not one."""
    _factory(name)


def _factory(name: str) -> Callable[..., TrainingData]:
    name = canonical_dataset_name(name)
    _load_builtins()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise JLoneVAEError(f"unknown dataset {name!r}; known datasets: "
                            f"{', '.join(available_datasets())}; {PLUGIN_HINT}") from None


def lacks_ground_truth_factors(name: str) -> bool:
    """True if ``name`` is registered as training data without factors (unknown names: False)."""
    name = canonical_dataset_name(name)
    _load_builtins()
    return name in _WITHOUT_FACTORS


def gin_dataset_name() -> str:
    """The dataset named by gin's ``dataset.name`` binding (disentanglement_lib's convention).

    Raises :class:`JLoneVAEError` when it is not bound.
    """
    import gin

    # Parsing a binding of dataset.name needs the ``dataset`` configurable registered (the
    # evaluation layer's configurables do that); without one, the query fails like an unbound
    # name. Importing it here would make the data layer depend on the evaluation layer.
    try:
        name = gin.query_parameter("dataset.name")
    except ValueError:
        name = None
    if not isinstance(name, str):
        raise JLoneVAEError(
            "no dataset name given and gin's dataset.name is not bound; pass a name, or parse "
            "a dataset config first (e.g. jlonevae_lib/config/dataset_configs/threeDots.gin)")
    return name


def get_named_ground_truth_data(name: str | None = None, **kwargs: Any) -> TrainingData:
    """Build the dataset registered as ``name`` (keyword arguments go to its constructor).

    Without ``name``, gin's ``dataset.name`` binding picks it, as in disentanglement_lib (see
    :func:`gin_dataset_name`). Aliases (:data:`DATASET_ALIASES`) build the dataset they stand
    for. The result is a :class:`GroundTruthData` unless :func:`lacks_ground_truth_factors`
    says so.
    """
    return _factory(gin_dataset_name() if name is None else name)(**kwargs)
