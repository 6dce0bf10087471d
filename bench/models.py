"""Bayesmark-style model-tuning problems: a scikit-learn model, a bundled dataset, 5-fold CV.

Bayesmark (Turner et al., "Bayesian Optimization is Superior to Random Search for Machine
Learning Hyperparameter Tuning", NeurIPS 2020 competition; https://github.com/uber/bayesmark)
tunes scikit-learn models on small bundled datasets and scores an optimiser by the cross-
validated loss it reaches. Its package no longer installs on current NumPy and scikit-learn, so
the problems are written here from its published definition:

* objective: mean 5-fold cross-validation loss, ``1 - accuracy`` for classifiers and mean
  squared error for regressors (Bayesmark's ``acc`` and ``mse`` metrics, as losses);
* features standardised once over the whole dataset (as Bayesmark's data loader does);
* folds fixed (shuffled with seed 0), and every model seeded, so the objective is a
  deterministic function of the hyperparameters and seeds differ only in the optimiser;
* hyperparameter spaces as Bayesmark's for the same model, log-scaled where it uses ``log``.
  Bayesmark's ``logit`` scale has no W&B counterpart and is made linear here; gradient boosting
  (not in Bayesmark) gets a space in the same style.

Datasets are subsampled (fixed seed 0) so one evaluation takes about 0.05 to 0.3 s on one core.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.spaces import Dim

__all__ = ["MODEL_PROBLEMS", "ModelProblem"]


@dataclass(frozen=True)
class ModelProblem:
    """One (model, dataset) pair.

    Attributes:
        name: Problem name, ``<model>_<dataset>``.
        dataset: ``iris``, ``wine``, ``breast_cancer``, ``digits`` or ``diabetes``.
        n_samples: Rows kept after subsampling (``None``: all).
        is_classifier: Loss is ``1 - accuracy`` when true, MSE otherwise.
        dims: The hyperparameter space.
        build: Makes the estimator from a point of the space.
    """

    name: str
    dataset: str
    n_samples: int | None
    is_classifier: bool
    dims: tuple[Dim, ...]
    build: Callable[[Mapping[str, Any]], Any]

    def evaluate(self, point: Mapping[str, Any]) -> float:
        """Mean 5-fold CV loss of the model built from ``point``."""
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score

        x, y = _data(self.dataset, self.n_samples)
        if self.is_classifier:
            cv: Any = StratifiedKFold(5, shuffle=True, random_state=0)
            scoring = "accuracy"
        else:
            cv = KFold(5, shuffle=True, random_state=0)
            scoring = "neg_mean_squared_error"
        with warnings.catch_warnings():
            # Poor hyperparameters do not converge; that is part of the objective, not news.
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.simplefilter("ignore", UserWarning)
            scores = cross_val_score(self.build(point), x, y, cv=cv, scoring=scoring)
        mean = float(np.mean(scores))
        return 1.0 - mean if self.is_classifier else -mean


@functools.cache
def _data(dataset: str, n_samples: int | None) -> tuple[np.ndarray, np.ndarray]:
    """The standardised (and subsampled) dataset, cached per process."""
    from sklearn import datasets
    from sklearn.preprocessing import StandardScaler

    loader = getattr(datasets, f"load_{dataset}")
    x, y = loader(return_X_y=True)
    if n_samples is not None and n_samples < len(y):
        keep = np.random.default_rng(0).permutation(len(y))[:n_samples]
        x, y = x[keep], y[keep]
    return StandardScaler().fit_transform(x), y


def _svm(p: Mapping[str, Any]) -> Any:
    from sklearn.svm import SVC

    return SVC(C=p["C"], gamma=p["gamma"], tol=p["tol"], kernel="rbf")


def _rf(p: Mapping[str, Any]) -> Any:
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(
        n_estimators=10,
        max_depth=p["max_depth"],
        max_features=p["max_features"],
        min_samples_split=p["min_samples_split"],
        min_samples_leaf=p["min_samples_leaf"],
        min_weight_fraction_leaf=p["min_weight_fraction_leaf"],
        random_state=0,
    )


def _mlp(p: Mapping[str, Any]) -> Any:
    from sklearn.neural_network import MLPClassifier

    return MLPClassifier(
        hidden_layer_sizes=(p["hidden_layer_sizes"],),
        alpha=p["alpha"],
        batch_size=p["batch_size"],
        learning_rate_init=p["learning_rate_init"],
        tol=p["tol"],
        solver="adam",
        max_iter=20,
        random_state=0,
    )


def _knn(p: Mapping[str, Any]) -> Any:
    from sklearn.neighbors import KNeighborsClassifier

    return KNeighborsClassifier(n_neighbors=p["n_neighbors"], p=p["p"])


def _gb(p: Mapping[str, Any]) -> Any:
    from sklearn.ensemble import GradientBoostingRegressor

    return GradientBoostingRegressor(
        n_estimators=p["n_estimators"],
        learning_rate=p["learning_rate"],
        max_depth=p["max_depth"],
        subsample=p["subsample"],
        min_samples_leaf=p["min_samples_leaf"],
        random_state=0,
    )


def _lasso(p: Mapping[str, Any]) -> Any:
    from sklearn.linear_model import Lasso

    return Lasso(
        alpha=p["alpha"],
        fit_intercept=p["fit_intercept"],
        positive=p["positive"],
        max_iter=p["max_iter"],
        tol=p["tol"],
        random_state=0,
    )


MODEL_PROBLEMS: tuple[ModelProblem, ...] = (
    ModelProblem(
        "svm_breast_cancer",
        "breast_cancer",
        None,
        True,
        (
            Dim("C", "float", 1.0, 1e3, log=True),
            Dim("gamma", "float", 1e-4, 1e-3, log=True),
            Dim("tol", "float", 1e-5, 1e-1, log=True),
        ),
        _svm,
    ),
    ModelProblem(
        "rf_wine",
        "wine",
        None,
        True,
        (
            Dim("max_depth", "int", 1, 15),
            Dim("max_features", "float", 0.01, 0.99),
            Dim("min_samples_split", "float", 0.01, 0.99),
            Dim("min_samples_leaf", "float", 0.01, 0.49),
            Dim("min_weight_fraction_leaf", "float", 0.01, 0.49),
        ),
        _rf,
    ),
    ModelProblem(
        "mlp_digits",
        "digits",
        300,
        True,
        (
            Dim("hidden_layer_sizes", "int", 50, 200),
            Dim("alpha", "float", 1e-5, 1e1, log=True),
            Dim("batch_size", "int", 10, 250),
            Dim("learning_rate_init", "float", 1e-5, 1e-1, log=True),
            Dim("tol", "float", 1e-5, 1e-1, log=True),
        ),
        _mlp,
    ),
    ModelProblem(
        "knn_digits",
        "digits",
        360,
        True,
        (Dim("n_neighbors", "int", 1, 25), Dim("p", "int", 1, 4)),
        _knn,
    ),
    ModelProblem(
        "gb_diabetes",
        "diabetes",
        None,
        False,
        (
            Dim("n_estimators", "int", 10, 50),
            Dim("learning_rate", "float", 1e-3, 1.0, log=True),
            Dim("max_depth", "int", 1, 5),
            Dim("subsample", "float", 0.5, 1.0),
            Dim("min_samples_leaf", "int", 1, 20),
        ),
        _gb,
    ),
    ModelProblem(
        "lasso_diabetes",
        "diabetes",
        None,
        False,
        (
            Dim("alpha", "float", 1e-2, 1e2, log=True),
            Dim("fit_intercept", "cat", choices=(True, False)),
            Dim("positive", "cat", choices=(True, False)),
            Dim("max_iter", "int", 10, 5000, log=True),
            Dim("tol", "float", 1e-5, 1e-1, log=True),
        ),
        _lasso,
    ),
)
