"""The results reader under the name the notebooks import (``jlonevae_lib.visualize.results``).

It lives in :mod:`jlonevae_lib.runs.results`, below evaluation, studies and figures; the score
keys and labels in :mod:`jlonevae_lib.runs.metric_table`.
"""

from jlonevae_lib.runs.metric_table import LOCAL_MIG, LOCAL_MODULARITY, MIG, MODULARITY
from jlonevae_lib.runs.results import (
    BASELINE_METHODS,
    GAMMA0,
    JL1,
    JL2,
    MetricResult,
    Results,
    RunInfo,
    discover_results,
    evaluation_records,
    find_model_runs,
    method_from_experiment_name,
    our_run_info,
    run_records,
)

__all__ = ["BASELINE_METHODS", "GAMMA0", "JL1", "JL2", "LOCAL_MIG", "LOCAL_MODULARITY", "MIG",
           "MODULARITY", "MetricResult", "Results", "RunInfo", "discover_results",
           "evaluation_records", "find_model_runs", "our_run_info", "method_from_experiment_name",
           "run_records"]
