"""Bayesian search: encoding, observation rules, batches, reproducibility, fallbacks."""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
import pytest

from sweepcore.config import load_config
from sweepcore.config.model import SweepConfig
from sweepcore.controller import SweepController
from sweepcore.search import get_searcher
from sweepcore.search.bayes import BayesSearcher, EncodedSpace, observation_table
from sweepcore.search.bayes import searcher as bayes_searcher
from sweepcore.search.bayes.gp import fit_surrogate
from sweepcore.trial import Trial, TrialState

SEED = 11


def bayes(parameters: dict[str, Any], **metric: Any) -> SweepConfig:
    return load_config(
        {"method": "bayes", "metric": {"name": "loss", **metric}, "parameters": parameters}
    )


def trial(i: int, params: dict[str, Any], loss: Any = None, state: str = "finished", **kw: Any):
    history = () if loss is None else tuple({"loss": v} for v in np.atleast_1d(loss).tolist())
    return Trial(Trial.id_for(i), i, params, TrialState(state), history=history, **kw)


MIXED = {
    "n": {"min": 1, "max": 5},
    "opt": {"values": ["adam", "sgd", None, False, 0]},
    "lr": {"distribution": "log_uniform_values", "min": 1e-4, "max": 0.1},
    "z": {"distribution": "normal", "mu": 0.0, "sigma": 1.0},
    "c": {"value": "fixed"},
    "sched": {
        "parameters": {"gamma": {"distribution": "q_uniform", "min": 0.5, "max": 1.0, "q": 0.05}}
    },
}


# -- encoding -------------------------------------------------------------------------------


def test_encoding_round_trips_every_kind_of_leaf_with_its_type():
    space = EncodedSpace(bayes(MIXED).parameters)
    point = {"n": 4, "opt": False, "lr": 0.003, "z": -1.25, "c": "fixed", "sched": {"gamma": 0.85}}

    row = space.encode(point)
    assert row is not None
    back = space.decode(row)

    assert back["n"] == 4 and type(back["n"]) is int
    assert back["opt"] is False
    assert math.isclose(back["lr"], 0.003, rel_tol=1e-9)
    assert math.isclose(back["z"], -1.25, rel_tol=1e-9)
    assert back["c"] == "fixed"
    assert math.isclose(back["sched"]["gamma"], 0.85)


def test_categorical_is_one_hot_and_false_none_zero_are_distinct_choices():
    space = EncodedSpace(bayes({"opt": MIXED["opt"]}).parameters)
    rows = [space.encode({"opt": v}) for v in ["adam", "sgd", None, False, 0]]
    assert np.array_equal(np.vstack(rows), np.eye(5))
    assert space.decode(np.array([0.1, 0.2, 0.3, 0.9, 0.4]))["opt"] is False
    # A value the config no longer lists encodes as no choice at all, without raising.
    assert np.array_equal(space.encode({"opt": "rmsprop"}), np.zeros(5))


def test_log_scaled_leaf_is_linear_in_log_and_unplaceable_values_give_none():
    space = EncodedSpace(bayes({"lr": MIXED["lr"]}).parameters)
    assert math.isclose(space.encode({"lr": 10**-2.5})[0], 0.5)
    assert space.encode({"lr": 5.0})[0] == 1.0  # out of bounds: clipped
    assert space.encode({}) is None
    assert space.encode({"lr": "fast"}) is None
    assert space.encode({"lr": float("nan")}) is None


def test_snap_puts_integers_and_quantised_values_on_their_points():
    space = EncodedSpace(bayes({"n": MIXED["n"], "sched": MIXED["sched"]}).parameters)
    snapped = space.snap(np.array([[0.33, 0.52]]))
    assert np.allclose(space.snap(snapped), snapped)
    assert space.decode(snapped[0]) == space.decode(np.array([0.33, 0.52]))


# -- observations ---------------------------------------------------------------------------


def test_observation_rules_per_state_with_worst_imputation():
    """Minimize, impute worst. Values of loss logged per trial:

    ======  ===========  ==========  =========================
    trial   state        logged      table
    ======  ===========  ==========  =========================
    t0      finished     4, 2, 3     2 (best, not last)
    t1      stopped      5           5
    t2      failed       1           worst = 5 (always imputed)
    t3      timed_out    -           worst = 5
    t4      running      0.5         in flight
    t5      cancelled    -           in flight
    ======  ===========  ==========  =========================
    """
    config = bayes({"x": {"min": 0.0, "max": 1.0}})
    history = [
        trial(0, {"x": 0.0}, [4, 2, 3]),
        trial(1, {"x": 0.1}, 5, "stopped"),
        trial(2, {"x": 0.2}, 1, "failed"),
        trial(3, {"x": 0.3}, None, "timed_out"),
        trial(4, {"x": 0.4}, 0.5, "running"),
        trial(5, {"x": 0.5}, None, "cancelled"),
    ]
    table = observation_table(config, history)
    assert table.values == {"t00000": 2.0, "t00001": 5.0, "t00002": 5.0, "t00003": 5.0}
    assert table.in_flight_ids == ["t00004", "t00005"]


def test_impute_while_running_makes_running_trials_observations():
    config = bayes({"x": {"min": 0.0, "max": 1.0}}, impute_while_running="best")
    history = [trial(0, {"x": 0.0}, 3), trial(1, {"x": 0.5}, [2, 1], "running")]
    table = observation_table(config, history)
    assert table.values == {"t00000": 3.0, "t00001": 1.0}
    assert table.in_flight_ids == []


BR06 = {
    "lr": {"distribution": "log_uniform_values", "min": 0.00001, "max": 0.1},
    "wd": {"min": 0.0, "max": 0.1},
}


def br06_history(r5: list[Any]) -> list[Trial]:
    """BR-06: final valid_loss r1 0.52, r2 0.47, r3 NaN, r4 0.49, r5 [0.9, +inf]."""
    finals: list[Any] = [0.52, 0.47, float("nan"), 0.49, r5]
    return [
        Trial(
            Trial.id_for(i),
            i,
            {"lr": 10.0 ** -(1 + i), "wd": 0.02 * i},
            TrialState.FINISHED,
            history=tuple({"valid_loss": v} for v in np.atleast_1d(np.asarray(f, dtype=object))),
            summary={"valid_loss": np.atleast_1d(np.asarray(f, dtype=object))[-1]},
        )
        for i, f in enumerate(finals)
    ]


@pytest.mark.parametrize(
    "r5", [[0.9, float("inf")], [0.9, "NaN"], [0.9, True]], ids=["inf", "string", "bool"]
)
def test_br06_non_finite_or_non_numeric_objectives_never_crash(r5: list[Any]):
    config = load_config(
        {
            "method": "bayes",
            "metric": {"name": "valid_loss", "goal": "minimize"},
            "parameters": BR06,
        }
    )
    history = br06_history(r5)

    table = observation_table(config, history)
    result = BayesSearcher().suggest(config, history, n=5, seed=SEED)

    # r3 logged only NaN: imputed as the worst value, 0.9 (r5's only finite value).
    assert table.values == {
        "t00000": 0.52,
        "t00001": 0.47,
        "t00002": 0.9,
        "t00003": 0.49,
        "t00004": 0.9,
    }
    assert len(result.points) == 5
    assert all(1e-5 <= p["lr"] <= 0.1 and 0.0 <= p["wd"] <= 0.1 for p in result.points)
    controller = SweepController(config, history)
    assert controller.progress().best_trial_id == "t00001"


def test_br09_metric_never_logged_still_suggests():
    config = load_config(
        {
            "method": "bayes",
            "metric": {"name": "test_acc_avg", "goal": "maximize"},
            "parameters": {"lr": {"min": 0.0001, "max": 0.1}},
        }
    )
    history = [
        Trial(
            Trial.id_for(i),
            i,
            {"lr": 0.01 * (i + 1)},
            TrialState.FINISHED,
            history=tuple({"test_acc_avg ": 0.5} for _ in range(10)),
        )
        for i in range(4)
    ]
    assert observation_table(config, history).values == {t.trial_id: 0.0 for t in history}
    points = BayesSearcher().suggest(config, history, n=2, seed=SEED).points
    assert len(points) == 2 and all(0.0001 <= p["lr"] <= 0.1 for p in points)


# -- batches, finite spaces, reproducibility ------------------------------------------------


def quadratic_history(config: SweepConfig, n: int, running: int = 0) -> list[Trial]:
    points = get_searcher("random").suggest(config, [], n=n + running, seed=3).points
    return [
        trial(
            i,
            p,
            None if i >= n else float((p["x"] - 0.3) ** 2 + (p["y"] - 0.7) ** 2),
            "running" if i >= n else "finished",
        )
        for i, p in enumerate(points)
    ]


def test_surrogate_predictions_match_scikit_learn():
    rng = np.random.default_rng(0)
    X = rng.random((30, 3))
    y = np.sin(3.0 * X.sum(axis=1)) + rng.normal(0.0, 0.3, 30)
    model = fit_surrogate(X, y, rng, trend_columns=np.arange(3))
    Z = rng.random((50, 3))

    mean, std = model.predict(Z)
    want_mean, want_std = model.gp.predict(Z, return_std=True)
    want_mean += model.prior_mean(Z)

    # scikit-learn's std is that of a new noisy observation; ours leaves the noise out.
    assert model.noise > 1e-3
    want_latent = np.sqrt(np.maximum(want_std**2 - model.noise, 1e-24))
    np.testing.assert_allclose(mean, want_mean, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(std, want_latent, rtol=1e-6, atol=1e-9)
    assert np.all(std < want_std)


def test_far_from_every_trial_the_model_follows_the_fitted_bowl_not_the_average():
    # Trials near the centre of a bowl: a corner, far from all of them, is worse than any.
    rng = np.random.default_rng(0)
    X = 0.3 + 0.4 * rng.random((15, 2))
    y = np.sum((X - 0.5) ** 2, axis=1)
    corner = np.zeros((1, 2))

    with_trend = fit_surrogate(X, y, rng, trend_columns=np.arange(2)).predict(corner)[0][0]
    constant = fit_surrogate(X, y, rng).predict(corner)[0][0]

    highest = (y.max() - y.mean()) / y.std()
    assert with_trend > highest
    assert constant < highest


def test_a_diverged_trial_does_not_flatten_the_model():
    # One loss nine orders of magnitude above the rest would set the GP's scale and make every
    # other trial look alike (the suggestion then lands 0.56 away from the optimum).
    config = bayes({"x": {"min": 0.0, "max": 1.0}, "y": {"min": 0.0, "max": 1.0}})
    history = quadratic_history(config, n=12)
    history.append(trial(12, {"x": 0.95, "y": 0.05}, 1e9))

    point = BayesSearcher().suggest(config, history, n=1, seed=SEED).points[0]

    assert math.hypot(point["x"] - 0.3, point["y"] - 0.7) < 0.1


def test_batch_points_are_distinct_spread_and_avoid_pending_ones():
    config = bayes({"x": {"min": 0.0, "max": 1.0}, "y": {"min": 0.0, "max": 1.0}})
    history = quadratic_history(config, n=10, running=3)

    points = BayesSearcher().suggest(config, history, n=6, seed=SEED).points

    xy = np.array([[p["x"], p["y"]] for p in points])
    pending = np.array([[t.params["x"], t.params["y"]] for t in history[10:]])
    gaps = np.linalg.norm(xy[:, None] - xy[None], axis=2)[np.triu_indices(6, 1)]
    assert gaps.min() > 1e-3
    assert np.linalg.norm(xy[:, None] - pending[None], axis=2).min() > 1e-3


def test_finite_space_never_repeats_a_point_until_all_are_tried():
    config = bayes({"k": {"min": 1, "max": 3}, "opt": {"values": ["a", "b"]}})
    history: list[Trial] = []
    for i in range(6):
        batch = BayesSearcher().suggest(config, history, n=1, seed=SEED).points
        history.append(trial(i, batch[0], float(batch[0]["k"])))
    seen = {(t.params["k"], t.params["opt"]) for t in history}
    assert len(seen) == 6


def test_early_suggestions_try_every_categorical_value_the_model_would_skip():
    # Both cold-start trials drew "a", and "a" with a small x looks promising, so expected
    # improvement alone keeps to "a": on lasso_diabetes that cost 8 trials before the
    # intercept's other value was tried. While fewer than N_COVER trials are taken, each
    # suggestion switches to an untried value of every categorical leaf.
    config = bayes({"x": {"min": 0.0, "max": 1.0}, "opt": {"values": ["a", "b", "c", "d"]}})
    history = [trial(0, {"x": 0.4, "opt": "a"}, 1.0), trial(1, {"x": 0.9, "opt": "a"}, 5.0)]

    batch = BayesSearcher().suggest(config, history, n=3, seed=SEED).points

    assert sorted(p["opt"] for p in batch) == ["b", "c", "d"]
    assert len(history) + len(batch) < bayes_searcher.N_COVER


def test_a_value_listed_twice_is_one_choice_and_coverage_reaches_the_others():
    # ``2`` and ``2.0`` are one value for grid; with a column each, the second column was never
    # marked tried and every early suggestion was forced onto ``2.0``.
    config = bayes({"x": {"min": 0.0, "max": 1.0}, "d": {"values": [2, 2.0, 3]}})
    history = [trial(0, {"x": 0.4, "d": 2}, 1.0), trial(1, {"x": 0.9, "d": 2}, 5.0)]

    points = BayesSearcher().suggest(config, history, n=2, seed=SEED).points

    space = EncodedSpace(config.parameters)
    assert space.n_columns == 3
    assert points[0]["d"] == 3
    # Like grid, the one choice is the value's last copy, whichever copy a trial holds.
    assert [type(space.decode(space.encode({"x": 0.5, "d": v}))["d"]) for v in (2, 2.0)] == [
        float,
        float,
    ]


def test_categorical_coverage_stops_once_no_value_is_owed_a_trial(monkeypatch):
    config = bayes({"x": {"min": 0.0, "max": 1.0}, "opt": {"values": ["a", "b", "c", "d"]}})
    history = [trial(0, {"x": 0.4, "opt": "a"}, 1.0), trial(1, {"x": 0.9, "opt": "a"}, 5.0)]

    monkeypatch.setattr(bayes_searcher, "N_COVER", len(history))
    monkeypatch.setattr(bayes_searcher, "COVER_GROWTH", 0.0)
    point = BayesSearcher().suggest(config, history, n=1, seed=SEED).points[0]

    assert point["opt"] == "a"


def test_a_value_written_off_early_is_owed_more_trials_as_the_sweep_grows():
    # "b" failed once, so expected improvement alone would keep to "a" for good; with 11 trials
    # taken, each of two values is owed floor(3 * sqrt(11) / 2) = 4.
    config = bayes({"x": {"min": 0.0, "max": 1.0}, "opt": {"values": ["a", "b"]}})
    history = [trial(i, {"x": i / 10, "opt": "a"}, (i / 10 - 0.3) ** 2) for i in range(10)]
    history.append(trial(10, {"x": 0.3, "opt": "b"}, 5.0))

    suggestions = BayesSearcher().suggest(config, history, n=2, seed=SEED)

    assert [p["opt"] for p in suggestions.points] == ["b", "b"]
    assert [i["owed"] for i in suggestions.info] == [["opt='b'"], ["opt='b'"]]
    assert len(history) >= bayes_searcher.N_COVER


def test_the_controller_keeps_why_a_value_was_owed_for_the_suggest_log():
    config = bayes({"x": {"min": 0.0, "max": 1.0}, "opt": {"values": ["a", "b"]}})
    history = [trial(i, {"x": i / 10, "opt": "a"}, (i / 10 - 0.3) ** 2) for i in range(10)]
    history.append(trial(10, {"x": 0.3, "opt": "b"}, 5.0))
    controller = SweepController(config, history, parallel=1)

    (new,) = controller.suggest(get_searcher("bayes"), 1, SEED)

    assert controller.suggestion_info[new.trial_id]["owed"] == ["opt='b'"]


def test_an_owed_value_is_searched_away_from_where_it_failed():
    # The digits kind: "b" failed twice where "a" is best. The owed trial of "b" must be placed
    # by expected improvement given "b", not at the incumbent's x with "b" switched in (which
    # sends it back where it failed).
    config = bayes({"x": {"min": 0.0, "max": 1.0}, "opt": {"values": ["a", "b"]}})
    xs = [0.05, 0.1, 0.15, 0.2, 0.5, 0.9]
    history = [trial(i, {"x": x, "opt": "a"}, abs(x - 0.1)) for i, x in enumerate(xs)]
    history += [
        trial(6, {"x": 0.1, "opt": "b"}, 3.0),
        trial(7, {"x": 0.14, "opt": "b"}, 3.0),
    ]

    point = BayesSearcher().suggest(config, history, n=1, seed=SEED).points[0]

    assert point["opt"] == "b"
    assert abs(point["x"] - 0.12) > 0.15


def test_an_owed_value_in_a_finite_space_is_an_untried_point_of_that_value():
    config = bayes({"n": {"values": [1, 2, 3, 4, 5]}, "opt": {"values": ["a", "b"]}})
    history = [trial(i, {"n": n, "opt": "a"}, float(n)) for i, n in enumerate([1, 2, 3, 4, 5])]
    history.append(trial(5, {"n": 1, "opt": "b"}, 9.0))

    batch = BayesSearcher().suggest(config, history, n=3, seed=SEED).points

    assert all(p["opt"] == "b" for p in batch)
    assert len({p["n"] for p in batch} | {1}) == 4


def test_an_owed_label_names_only_values_the_suggested_point_holds():
    # 2 x 2 points, all tried: the next points repeat one, and an owed value whose points are
    # all taken must not be named for a point that does not hold it.
    config = bayes({"opt": {"values": ["a", "b"]}, "n": {"values": [1, 2]}})
    grid = [{"opt": o, "n": n} for o in "ab" for n in (1, 2)]
    history = [trial(i, p, float(i)) for i, p in enumerate(grid)]

    suggestions = BayesSearcher().suggest(config, history, n=4, seed=SEED)

    for point, info in zip(suggestions.points, suggestions.info, strict=True):
        held = {f"opt={point['opt']!r}", f"n={point['n']!r}"}
        assert set(info.get("owed", [])) <= held


def test_a_normal_leaf_with_sigma_zero_is_its_mean_and_never_stalls_the_search():
    config = bayes({"x": {"min": 0.0, "max": 1.0}, "s": {"distribution": "normal", "sigma": 0}})
    history = [trial(i, {"x": x, "s": 0.0}, (x - 0.3) ** 2) for i, x in enumerate([0.9, 0.1])]

    for i in range(2, 8):
        point = BayesSearcher().suggest(config, history, n=1, seed=SEED).points[0]
        history.append(trial(i, point, (point["x"] - 0.3) ** 2))

    assert all(t.params["s"] == 0.0 for t in history)
    assert len({t.params["x"] for t in history}) == len(history)
    assert EncodedSpace(config.parameters).n_columns == 1


def test_suggestions_do_not_depend_on_the_scale_of_the_losses():
    config = bayes({"x": {"min": 0.0, "max": 1.0}, "y": {"min": 0.0, "max": 1.0}})
    points = get_searcher("random").suggest(config, [], n=6, seed=5).points

    def loss(p: dict[str, Any]) -> float:
        return (p["x"] - 0.3) ** 2 + (p["y"] - 0.7) ** 2

    suggested = []
    for scale in (1.0, 1e-12, 1e12):
        history = [trial(i, p, scale * loss(p)) for i, p in enumerate(points)]
        suggested.append(BayesSearcher().suggest(config, history, n=2, seed=SEED).points)

    one, tiny, huge = suggested
    for p, q, r in zip(one, tiny, huge, strict=True):
        assert p["x"] == pytest.approx(q["x"], abs=1e-6) == pytest.approx(r["x"], abs=1e-6)
        assert p["y"] == pytest.approx(q["y"], abs=1e-6) == pytest.approx(r["y"], abs=1e-6)


def test_losses_near_the_float_limit_are_still_modelled(caplog):
    config = bayes({"x": {"min": 0.0, "max": 1.0}, "y": {"min": 0.0, "max": 1.0}})
    points = get_searcher("random").suggest(config, [], n=8, seed=5).points
    history = [
        trial(i, p, 1e308 if p["x"] > 0.5 else p["x"] + p["y"]) for i, p in enumerate(points)
    ]

    with caplog.at_level(logging.WARNING):
        suggestions = BayesSearcher().suggest(config, history, n=1, seed=SEED)

    assert suggestions.info[0]["source"] == "gp"
    assert "GP fit failed" not in caplog.text


def test_a_majority_of_diverged_trials_does_not_flatten_the_others():
    losses = np.array([0.1, 0.2, 0.05, 0.07, 1e308, 1e308, 1e308, 1e308, 1e308])

    with np.errstate(all="raise"):  # no overflow on the way
        tamed = bayes_searcher._tame_outliers(losses)

    assert list(tamed[:4]) == [0.1, 0.2, 0.05, 0.07]
    assert np.all(tamed[4:] == tamed[4]) and 0.2 < tamed[4] < 1.0
    # Ordinary spreads, and accuracies tied to the last digit, are left alone.
    tied = np.array([0.0472222222222222, 0.04722222222222228, 0.05, 0.3, 0.3, 0.31])
    assert list(bayes_searcher._tame_outliers(tied)) == list(tied)


def test_same_history_and_seed_give_identical_suggestions():
    config = bayes(MIXED)
    points = get_searcher("random").suggest(config, [], n=8, seed=5).points
    history = [trial(i, p, float(p["n"]) + p["lr"]) for i, p in enumerate(points)]

    first = BayesSearcher().suggest(config, history, n=3, seed=SEED).points
    again = BayesSearcher().suggest(config, history, n=3, seed=SEED).points
    other = BayesSearcher().suggest(config, history, n=3, seed=SEED + 1).points

    assert first == again
    assert first != other
    assert all(type(p["n"]) is int and p["opt"] in ["adam", "sgd", None, False, 0] for p in first)


def test_a_small_integer_and_q_space_is_covered_before_a_repeat_and_the_repeat_is_logged(caplog):
    # 2 x 3 points that EncodedSpace.size() does not enumerate (a q leaf): the acquisition's
    # exclusion of tried points must still cover them all, then say why one comes again.
    config = bayes(
        {
            "n": {"min": 1, "max": 2},
            "q": {"distribution": "q_uniform", "min": 0, "max": 1, "q": 0.5},
        }
    )
    history: list[Trial] = []
    with caplog.at_level(logging.WARNING, logger="sweepcore.search.bayes"):
        for i in range(7):
            point = BayesSearcher().suggest(config, history, n=1, seed=SEED).points[0]
            history.append(trial(i, point, point["n"] + point["q"]))
            if i == 5:
                assert "tried already" not in caplog.text

    assert len({(t.params["n"], t.params["q"]) for t in history[:6]}) == 6
    assert "every candidate point was tried already" in caplog.text


def test_failed_gp_fit_falls_back_to_random_with_a_warning(monkeypatch, caplog):
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise np.linalg.LinAlgError("singular kernel")

    monkeypatch.setattr(bayes_searcher, "fit_surrogate", broken)
    config = bayes({"x": {"min": 0.0, "max": 1.0}, "y": {"min": 0.0, "max": 1.0}})
    history = quadratic_history(config, n=5)

    with caplog.at_level(logging.WARNING, logger="sweepcore.search.bayes"):
        result = BayesSearcher().suggest(config, history, n=2, seed=SEED)

    assert "falling back to random" in caplog.text
    assert result.points == get_searcher("random").suggest(config, history, n=2, seed=SEED).points


def test_cold_start_is_random_until_two_observations():
    config = bayes({"x": {"min": 0.0, "max": 1.0}})
    history = [trial(0, {"x": 0.5}, 1.0), trial(1, {"x": 0.2}, None, "running")]
    got = BayesSearcher().suggest(config, history, n=3, seed=SEED)
    assert got.points == get_searcher("random").suggest(config, history, n=3, seed=SEED).points
    assert [i["source"] for i in got.info] == ["random"] * 3


def test_cold_start_batch_in_a_small_discrete_space_has_no_copies():
    # 6 points; random search's first four draws for this seed hold copies of one point, which
    # a parallel bayes sweep used to start as identical trials.
    config = bayes({"a": {"values": ["x", "y"]}, "b": {"values": [1, 2, 3]}})
    running = [trial(0, {"a": "y", "b": 1}, None, "running")]

    batch = BayesSearcher().suggest(config, running, n=5, seed=3).points

    drawn = get_searcher("random").suggest(config, running, n=5, seed=3).points
    assert len({(p["a"], p["b"]) for p in [*drawn, running[0].params]}) < 6
    assert len({(p["a"], p["b"]) for p in [*batch, running[0].params]}) == 6


def test_a_random_first_trial_that_must_repeat_a_point_says_so(caplog):
    config = bayes({"x": {"values": [1, 2, 3]}})
    running = [trial(i, {"x": x}, None, "running") for i, x in enumerate([1, 2, 3])]

    with caplog.at_level(logging.WARNING, logger="sweepcore.search.bayes"):
        BayesSearcher().suggest(config, running, n=1, seed=SEED)

    assert "trial 3 repeats a point already taken" in caplog.text


def test_refuses_n_below_one():
    config = bayes({"x": {"min": 0.0, "max": 1.0}})
    with pytest.raises(ValueError, match="n must be at least 1"):
        BayesSearcher().suggest(config, [], n=0, seed=SEED)


def test_metric_target_stops_a_batched_bayes_sweep():
    config = load_config(
        {
            "method": "bayes",
            "metric": {"name": "loss", "target": 0.01},
            "parameters": {"x": {"min": 0.0, "max": 1.0}},
        }
    )
    controller = SweepController(config, [], parallel=4)
    searcher = get_searcher("bayes")
    rounds = 0
    while not controller.is_done and rounds < 15:
        rounds += 1
        for new in controller.suggest(searcher, controller.n_new_wanted(), seed=SEED):
            controller.enqueue(new)
        for started in controller.start_next():
            loss = (started.params["x"] - 0.3) ** 2
            controller.record(started.evolve(state=TrialState.FINISHED, summary={"loss": loss}))

    assert controller.stop_reason() is not None and "target" in controller.stop_reason()
    assert controller.n_new_wanted() == 0
    assert controller.progress().best_value <= 0.01
    assert len(controller.trials) % 4 == 0 and len(controller.trials) < 60


def test_a_normal_leaf_is_searched_within_about_three_sigma():
    # The loss falls without end as z grows: expected improvement runs to the box's edge, which
    # must be where the distribution still puts draws, not 4.75 sigma out.
    config = bayes({"z": {"distribution": "normal", "mu": 10.0, "sigma": 2.0}})
    history = [trial(i, {"z": z}, loss=-z) for i, z in enumerate([8.0, 9.0, 10.0, 11.0, 12.0])]
    points = BayesSearcher().suggest(config, history, n=6, seed=SEED).points
    assert max(p["z"] for p in points) > 14.0  # it does go towards the edge
    assert all(p["z"] <= 10.0 + 3.1 * 2.0 for p in points)
