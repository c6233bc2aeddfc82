"""Ground-truth datasets (disentanglement_lib's interface) and their registry.

``get_named_ground_truth_data("threeDots")`` etc.; see :mod:`.ground_truth` for the interface,
:mod:`.three_dots` for its datasets and :mod:`.three_dots_render` for the renderer, :mod:`.cache`
for the training caches.
"""

from jlonevae_lib.data.ground_truth import (
    GroundTruthData,
    available_datasets,
    data_root,
    get_named_ground_truth_data,
    register_ground_truth_data,
)
from jlonevae_lib.data.three_dots import ThreeDots, ThreeDotsCache
from jlonevae_lib.data.three_dots_render import render_three_dots

__all__ = [
    "GroundTruthData",
    "ThreeDots",
    "ThreeDotsCache",
    "available_datasets",
    "data_root",
    "get_named_ground_truth_data",
    "register_ground_truth_data",
    "render_three_dots",
]
