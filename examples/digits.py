"""Sweep an SVM on scikit-learn's digits with 5-fold cross-validation (a Python trainer).

Run it with::

    sweep run examples/digits-svc.yaml --function examples.digits:train

Each trial trains 5 SVMs (one per fold) and logs every fold's accuracy, then the mean as
``cv_accuracy``, the sweep's metric.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from sweepcore.run import Run

N_FOLDS = 5


def train(config: dict[str, Any], run: Run) -> None:
    """Score one SVM configuration by 5-fold CV accuracy on digits."""
    X, y = load_digits(return_X_y=True)
    model = make_pipeline(
        StandardScaler(),
        SVC(C=config["C"], gamma=config["gamma"], kernel=config["kernel"]),
    )
    folds = StratifiedKFold(n_splits=N_FOLDS, shuffle=True, random_state=0)
    scores = cross_val_score(model, X, y, cv=folds, n_jobs=1)

    for fold, score in enumerate(scores):
        run.log({"fold": fold, "fold_accuracy": float(score)}, step=fold)
    run.log({"cv_accuracy": float(np.mean(scores)), "cv_std": float(np.std(scores))})
