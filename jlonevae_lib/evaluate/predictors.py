"""The scikit-learn classifiers of disentanglement_lib's metrics, fitted one per factor.

disentanglement_lib fits a fresh classifier per ground-truth factor (DCI's boosted trees, the
downstream task's predictors, SAP's linear SVMs) and reads accuracies, and for DCI the feature
importances, from it. Here the estimators are the same classes with the same settings; the fits
are independent, so :func:`fit_and_score_each` may run them in parallel (joblib processes).

Two cases where disentanglement_lib raises instead of scoring are given a value (docs/metrics.md,
"Edge cases"):

- a training set holding a single class (a factor held fixed, or a tiny training set): the
  classifier is :class:`ConstantClassifier`, which predicts that class everywhere and gives
  every code zero importance;
- a class missing from a cross-validation fold of ``LogisticRegressionCV`` (disentanglement_lib's
  scikit-learn < 1.6 stacks the folds' coefficient arrays and fails with "inhomogeneous shape"):
  scikit-learn >= 1.6 fits it, and that fit is used.

Shapes: codes ``x`` are (N, d) here (one row per point, as scikit-learn takes them), labels
``y`` (N,).
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn import ensemble, linear_model, model_selection
from threadpoolctl import threadpool_limits

from jlonevae_lib.utils.threads import thread_count_of, usable_cpus

#: A function returning a fresh, unfitted classifier (disentanglement_lib's ``predictor_fn``).
PredictorFactory = Callable[[], Any]


def logistic_regression_cv() -> linear_model.LogisticRegressionCV:
    """disentanglement_lib's ``logistic_regression_cv``: 10 values of C, 5 unshuffled folds.

    ``scoring="accuracy"`` is what its ``scoring=None`` means (the estimator's ``score``); it
    is spelt out because scikit-learn 1.11 changes that default.
    """
    return linear_model.LogisticRegressionCV(Cs=10, cv=model_selection.KFold(n_splits=5),
                                             scoring="accuracy")


def gradient_boosting_classifier() -> ensemble.GradientBoostingClassifier:
    """disentanglement_lib's ``gradient_boosting_classifier``: scikit-learn's defaults (100
    stages of depth-3 trees, learning rate 0.1, the process's global numpy random state)."""
    return ensemble.GradientBoostingClassifier()


class ConstantClassifier:
    """The classifier of a training set with one class: predicts it, uses no code."""

    def __init__(self, label: Any, num_codes: int) -> None:
        self.classes_ = np.array([label])
        self.feature_importances_ = np.zeros(num_codes)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """x (N, d) -> the training class, (N,)."""
        return np.full(len(x), self.classes_[0])


def fit_or_constant(estimator: Any, x: np.ndarray, y: np.ndarray) -> Any:
    """``estimator`` fitted on x (N, d), y (N,); a :class:`ConstantClassifier` when y holds one
    value (scikit-learn refuses a single class)."""
    first = y[0]
    if np.all(y == first):
        return ConstantClassifier(first, x.shape[1])
    with warnings.catch_warnings():
        # scikit-learn 1.9 announces default changes that keep these estimators the same:
        # l1_ratios None -> (0.0,) (both pure L2) and the layout of fitted CV attributes.
        warnings.filterwarnings("ignore", message=".*l1_ratios.*", category=FutureWarning)
        warnings.filterwarnings("ignore", message=".*use_legacy_attributes.*",
                                category=FutureWarning)
        return estimator.fit(x, y)


def accuracy(model: Any, x: np.ndarray, y: np.ndarray) -> float:
    """Fraction of points (x (N, d), y (N,)) whose label ``model`` predicts."""
    return float(np.mean(model.predict(x) == y))


@dataclass(frozen=True)
class FitScores:
    """One classifier's accuracies, and its feature importances (d,) when asked for."""

    train_accuracy: float
    test_accuracy: float
    importances: np.ndarray | None = None


def fit_and_score(estimator: Any, x_train: np.ndarray, y_train: np.ndarray,
                  x_test: np.ndarray, y_test: np.ndarray,
                  importances: bool = False) -> FitScores:
    """Fit on (x_train (N, d), y_train (N,)); accuracy on it and on (x_test (M, d), y_test (M,));
    ``|feature_importances_|`` (d,) if ``importances``."""
    model = fit_or_constant(estimator, x_train, y_train)
    return FitScores(accuracy(model, x_train, y_train), accuracy(model, x_test, y_test),
                     np.abs(model.feature_importances_) if importances else None)


def default_n_jobs() -> int:
    """Parallel fits: ``OMP_NUM_THREADS`` when set to a positive number, else the CPUs this
    process may run on."""
    return thread_count_of(os.environ) or usable_cpus()


def single_threaded_blas() -> contextlib.AbstractContextManager:
    """BLAS on one thread while it lasts. These classifiers call BLAS on tiny matrices (the
    L-BFGS steps of a logistic regression): extra threads only wait for each other, and on a
    busy machine a fit took many times as long with two threads as with one (docs/metrics.md).
    Parallel work here goes over factors instead."""
    return threadpool_limits(limits=1, user_api="blas")


def run_parallel(tasks: Sequence[tuple[Callable[..., Any], tuple[Any, ...]]],
                 n_jobs: int | None) -> list[Any]:
    """``[fn(*args) for fn, args in tasks]``, in order, over ``n_jobs`` joblib processes
    (None: :func:`default_n_jobs`; 1 or a single task: in this process), BLAS single-threaded
    in each (:func:`single_threaded_blas`)."""
    jobs = default_n_jobs() if n_jobs is None else int(n_jobs)
    jobs = max(1, min(jobs, len(tasks)))
    if jobs == 1:
        with single_threaded_blas():
            return [fn(*args) for fn, args in tasks]
    from joblib import Parallel, delayed, parallel_config

    # loky gives each worker cpu_count // n_jobs BLAS threads; one is what these fits want.
    with parallel_config(backend="loky", inner_max_num_threads=1):
        return Parallel(n_jobs=jobs)(delayed(fn)(*args) for fn, args in tasks)


def fit_and_score_each(make_predictor: PredictorFactory, codes_train: np.ndarray,
                       factors_train: np.ndarray, codes_test: np.ndarray,
                       factors_test: np.ndarray, importances: bool = False,
                       n_jobs: int | None = 1) -> list[FitScores]:
    """One fresh classifier per factor: codes_* (d, N) / (d, M), factors_* (F, N) / (F, M) ->
    F :class:`FitScores`, factor order. The estimators are made here, fitted in parallel."""
    x_train, x_test = codes_train.T, codes_test.T
    tasks = [(fit_and_score, (make_predictor(), x_train, factors_train[j], x_test,
                              factors_test[j], importances))
             for j in range(factors_train.shape[0])]
    return run_parallel(tasks, n_jobs)
