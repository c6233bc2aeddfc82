"""disentanglement_lib 1.5's own metric functions, loaded next to ours (docs/metrics.md).

Its modules ``import gin.tf`` (which needs TensorFlow) and call ``gin.configurable(...,
blacklist=...)`` (gin-config 0.5 calls that keyword ``denylist``), and they register names
such as ``discretizer`` that ours use too. So, only while importing them: a stand-in module sits
at ``sys.modules["gin.tf"]`` and ``gin.configurable`` is wrapped to translate the old keywords
and register every name under the module ``dlib`` (``dlib.discretizer.num_bins``). Both are
restored afterwards; our bare names keep matching exactly ours.
"""

from __future__ import annotations

import contextlib
import functools
import sys
import types
from collections.abc import Iterator

import gin


@functools.cache
def load() -> types.SimpleNamespace:
    """disentanglement_lib's ``utils`` and metric modules (none of them needs TensorFlow once
    ``gin.tf`` is stood in for): ``mig``, ``modularity_explicitness``, ``beta_vae``,
    ``factor_vae``, ``dci``, ``sap_score``, ``irs``, ``unsupervised_metrics``,
    ``downstream_task``."""
    original = gin.configurable
    added_stand_in = "gin.tf" not in sys.modules

    def configurable(name_or_fn=None, module=None, allowlist=None, denylist=None,
                     blacklist=None, whitelist=None):
        del module
        return original(name_or_fn, module="dlib", allowlist=allowlist or whitelist,
                        denylist=denylist or blacklist)

    if added_stand_in:
        sys.modules["gin.tf"] = types.ModuleType("gin.tf")
    gin.configurable = configurable
    try:
        from disentanglement_lib.evaluation.metrics import (
            beta_vae,
            dci,
            downstream_task,
            factor_vae,
            irs,
            mig,
            modularity_explicitness,
            sap_score,
            unsupervised_metrics,
            utils,
        )
    finally:
        gin.configurable = original
        if added_stand_in:
            del sys.modules["gin.tf"]
    return types.SimpleNamespace(utils=utils, mig=mig,
                                 modularity_explicitness=modularity_explicitness,
                                 beta_vae=beta_vae, factor_vae=factor_vae, dci=dci,
                                 sap_score=sap_score, irs=irs,
                                 unsupervised_metrics=unsupervised_metrics,
                                 downstream_task=downstream_task)


@contextlib.contextmanager
def histogram_bins(num_bins: int) -> Iterator[None]:
    """Bind disentanglement_lib's discretiser to its histogram one with ``num_bins`` bins."""
    load()
    gin.clear_config()
    gin.parse_config([f"dlib.discretizer.num_bins = {num_bins}",
                      "dlib.discretizer.discretizer_fn = @dlib.histogram_discretizer"])
    try:
        yield
    finally:
        gin.clear_config()
