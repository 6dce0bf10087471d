"""The digits SVM sweep as a command-line program, driven by ``program``/``command``.

The sweep runs ``python train.py --C=... --gamma=... --kernel=...`` (W&B's default command)
and reads the metrics this program prints, one JSON object per line::

    sweep run examples/digits-command.yaml --work-dir examples
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--C", type=float, required=True)
    parser.add_argument("--gamma", type=float, required=True)
    parser.add_argument("--kernel", default="rbf")
    args = parser.parse_args()

    X, y = load_digits(return_X_y=True)
    model = make_pipeline(StandardScaler(), SVC(C=args.C, gamma=args.gamma, kernel=args.kernel))
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    scores = cross_val_score(model, X, y, cv=folds, n_jobs=1)

    for fold, score in enumerate(scores):
        print(json.dumps({"_step": fold, "fold": fold, "fold_accuracy": float(score)}))
    print(json.dumps({"cv_accuracy": float(np.mean(scores)), "cv_std": float(np.std(scores))}))


if __name__ == "__main__":
    main()
