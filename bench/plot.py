"""Best-so-far curves, one panel per problem, one line per method (median over seeds)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["plot_curves"]


def plot_curves(
    results: Sequence[Mapping[str, Any]],
    best_known: Mapping[str, float],
    budget: str,
    path: Path,
) -> Path | None:
    """Plot median ``best-so-far - best_known`` against evaluations for one budget.

    Returns:
        The PNG written, or ``None`` when matplotlib is not installed or nothing ran.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None

    curves: dict[str, dict[str, list[np.ndarray]]] = defaultdict(lambda: defaultdict(list))
    for r in results:
        if r.get("error") is None and r["ys"] and r["budget"] == budget:
            curves[r["problem"]][r["method"]].append(np.minimum.accumulate(r["ys"]))
    if not curves:
        return None

    problems = sorted(curves)
    methods = sorted({m for by_method in curves.values() for m in by_method})
    colours = {m: plt.get_cmap("tab10")(i % 10) for i, m in enumerate(methods)}
    n_cols = min(4, len(problems))
    n_rows = math.ceil(len(problems) / n_cols)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(4.2 * n_cols, 3.3 * n_rows), squeeze=False)
    for ax, problem in zip(axes.flat, problems, strict=False):
        bk = best_known[problem]
        floors = []
        for method, runs in sorted(curves[problem].items()):
            n = min(len(c) for c in runs)
            gap = np.median(np.stack([c[:n] for c in runs]) - bk, axis=0)
            floors.append(gap[gap > 0].min() if np.any(gap > 0) else 1.0)
            ax.plot(np.arange(1, n + 1), gap, label=method, lw=1.4, color=colours[method])
        ax.set_yscale("symlog", linthresh=max(min(floors) / 10, 1e-12))
        ax.set_title(problem, fontsize=10)
        ax.set_xlabel("evaluations", fontsize=8)
        ax.set_ylabel("best so far − best known", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(problems) :]:
        ax.axis("off")
    legend: dict[str, Any] = {}
    for ax in axes.flat:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            legend.setdefault(label, handle)
    fig.legend(
        list(legend.values()),
        list(legend),
        loc="lower center",
        ncol=min(len(legend), 5),
        fontsize=8,
    )
    fig.suptitle(f"Median best-so-far gap over seeds, budget {budget}", fontsize=11)
    fig.tight_layout(rect=(0, 0.06, 1, 0.97))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
