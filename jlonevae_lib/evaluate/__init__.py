"""Disentanglement metrics, exact to disentanglement_lib 1.5 (see docs/metrics.md).

- :mod:`.metrics`: pure functions of arrays (codes (d, N), factors (F, N)): histogram
  discretiser, mutual information, entropy, MIG, modularity, explicitness, local scores.
- :mod:`.dci`, :mod:`.sap`, :mod:`.irs`, :mod:`.unsupervised`, :mod:`.downstream`,
  :mod:`.intervention_scores` (β-VAE and FactorVAE scores): disentanglement_lib's other metrics
  as pure computations on arrays; :mod:`.predictors`: their scikit-learn classifiers, fitted one
  per factor (in parallel).
- :mod:`.sampling`: global and local draws from one ``RandomState`` in the reference's order.
- :mod:`.representation`: saved-model folders and TorchScript files as representation functions.
- :mod:`.configurables`: gin configurables under the reference's names, and the metric functions
  with disentanglement_lib's names and signatures (sampling, then the computation).
- :mod:`.evaluation`: the evaluation step ``jlonevae-evaluate`` runs, and the results layout.
- :mod:`.statistics`: Welch's t-test over seeds and the rows of the t-test tables.

disentanglement_lib's metric functions are reachable from here under their own names
(``from jlonevae_lib.evaluate import compute_dci``); they are imported on first use, so that
importing a light submodule such as :mod:`.statistics` does not load scikit-learn and gin.
"""

from __future__ import annotations

from typing import Any

#: disentanglement_lib's metric functions (and the two of the paper's local scores), by name.
METRIC_FUNCTIONS = {
    "compute_mig": "compute_mig",
    "compute_modularity_explicitness": "compute_modularity_explicitness",
    "compute_beta_vae_sklearn": "compute_beta_vae_sklearn",
    "compute_factor_vae": "compute_factor_vae",
    "compute_dci": "compute_dci",
    "compute_sap": "compute_sap",
    "compute_irs": "compute_irs",
    "unsupervised_metrics": "unsupervised_metrics",
    "compute_downstream_task": "compute_downstream_task",
    "compute_local_mig": "compute_local_mig",
    "compute_local_modularity": "compute_local_modularity",
    "compute_local_dci": "compute_local_dci",
    "compute_local_sap": "compute_local_sap",
    "compute_local_irs": "compute_local_irs",
    "compute_local_unsupervised_metrics": "compute_local_unsupervised_metrics",
    "compute_local_downstream_task": "compute_local_downstream_task",
}

__all__ = sorted(METRIC_FUNCTIONS)


def __getattr__(name: str) -> Any:
    if name in METRIC_FUNCTIONS:
        from jlonevae_lib.evaluate import configurables

        return getattr(configurables, METRIC_FUNCTIONS[name])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
