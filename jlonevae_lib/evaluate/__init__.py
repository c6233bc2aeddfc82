"""Disentanglement metrics, exact to disentanglement_lib 1.5 (see docs/metrics.md).

- :mod:`.metrics`: pure functions of arrays (codes (d, N), factors (F, N)): histogram
  discretiser, mutual information, entropy, MIG, modularity, explicitness, local scores.
- :mod:`.sampling`: global and local draws from one ``RandomState`` in the reference's order.
- :mod:`.representation`: saved-model folders and TorchScript files as representation functions.
- :mod:`.configurables`: gin configurables under the reference's names.
- :mod:`.evaluation`: the evaluation step ``jlonevae-evaluate`` runs, and the results layout.
- :mod:`.statistics`: Welch's t-test over seeds and the rows of the t-test tables.
"""
