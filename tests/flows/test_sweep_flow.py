"""The sweep flow end to end, on a real Prefect API and real trainers."""

from __future__ import annotations

import json
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from sweepcore.store import open_store
from sweepcore.trial import TrialState
from tests.cases.caselib import case_ids, load_cases
from tests.flows.trainers import br27_config

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_api")]


def _run(**kwargs):
    from flows.sweep import sweep

    return sweep(**kwargs)


def test_digits_example_beats_trivial_baseline(tmp_path):
    """The README's example: real 5-fold CV accuracy, far above predicting the majority class."""
    from sklearn.datasets import load_digits
    from sklearn.dummy import DummyClassifier
    from sklearn.model_selection import cross_val_score

    config = {**_example("digits-svc.yaml"), "run_cap": 6}
    summary = _run(config=config, function="examples.digits:train", store=str(tmp_path), seed=3)

    X, y = load_digits(return_X_y=True)
    baseline = cross_val_score(DummyClassifier(), X, y, cv=5).mean()
    results = pd.read_csv(tmp_path / summary["sweep_id"] / "results.csv")
    assert len(results) == 6
    assert set(results["state"]) == {"finished"}
    assert results["cv_accuracy"].iloc[0] == results["cv_accuracy"].max()
    assert results["cv_accuracy"].iloc[0] > baseline + 0.5
    assert {"trial_id", "state", "C", "gamma", "kernel", "duration_s"} <= set(results.columns)
    assert len(list((tmp_path / summary["sweep_id"] / "trials").glob("*.json"))) == 6
    parquet = pd.read_parquet(tmp_path / summary["sweep_id"] / "results.parquet")
    assert list(parquet["trial_id"]) == list(results["trial_id"])


def test_nested_grid_runs_every_point_once_with_four_slots(tmp_path):
    """BR-01: 36 distinct points of a nested grid, each value as often as it should be."""
    config = {
        "method": "grid",
        "metric": {"name": "val_loss", "goal": "minimize"},
        "parameters": {
            "optim": {
                "parameters": {
                    "batch_size": {"values": [256, 512, 1024]},
                    "lr": {"values": [0.0003, 0.001]},
                    "momentum": {"value": 0.9},
                }
            },
            "env": {
                "parameters": {"reward": {"parameters": {"weight": {"values": [0.25, 0.5, 0.75]}}}}
            },
            "seed": {"values": [1, 2]},
        },
    }
    summary = _run(
        config=config,
        function="tests.flows.trainers:constant_loss",
        store=str(tmp_path),
        parallel=4,
    )

    trials = open_store(str(tmp_path)).load_trials(summary["sweep_id"])
    points = [
        (
            t.params["optim"]["batch_size"],
            t.params["optim"]["lr"],
            t.params["env"]["reward"]["weight"],
            t.params["seed"],
        )
        for t in trials
    ]
    assert len(trials) == 36 and len(set(points)) == 36
    assert set(Counter(p[0] for p in points).values()) == {12}
    assert set(Counter(p[1] for p in points).values()) == {18}
    assert set(Counter(p[2] for p in points).values()) == {12}
    assert set(Counter(p[3] for p in points).values()) == {18}
    assert {t.params["optim"]["momentum"] for t in trials} == {0.9}
    assert summary["states"] == {"finished": 36}


def test_run_cap_skips_trials_that_died_before_logging(tmp_path):
    """BR-10: launches #2 (crash) and #3 (SIGKILL) spend no budget; #5 (crash after logging)
    does; exactly 7 launches with 4 slots, and the best trial is #4."""
    script = tmp_path / "scripted.py"
    script.write_text(
        textwrap.dedent("""
        import json, os, signal, sys
        launch = int(os.environ["SWEEP_TRIAL_ID"][1:]) + 1
        if launch == 2:
            sys.exit("RuntimeError: CUDA out of memory")
        if launch == 3:
            os.kill(os.getpid(), signal.SIGKILL)
        if launch == 5:
            for v in (0.8, 0.7, 0.6):
                print(json.dumps({"val_loss": v}))
            sys.exit(1)
        value = {1: 0.40, 4: 0.35, 6: 0.38, 7: 0.41}.get(launch, 0.5)
        print(json.dumps({"val_loss": value}))
    """)
    )
    config = {
        "method": "random",
        "metric": {"name": "val_loss", "goal": "minimize"},
        "run_cap": 5,
        "program": str(script),
        "parameters": {"lr": {"min": 0.001, "max": 0.1}},
    }
    summary = _run(
        config=config, store=str(tmp_path / "store"), parallel=4, work_dir=str(tmp_path)
    )

    trials = open_store(str(tmp_path / "store")).load_trials(summary["sweep_id"])
    assert len(trials) == 7
    assert [t.state for t in trials[:3]] == ["finished", "failed", "failed"]
    assert "CUDA out of memory" in trials[1].error
    assert "SIGKILL" in trials[2].error
    assert trials[4].state == "failed" and trials[4].summary["val_loss"] == 0.6
    assert summary["best_trial_id"] == "t00003" and summary["best_value"] == 0.35
    state = open_store(str(tmp_path / "store")).read_state(summary["sweep_id"])
    assert state["status"] == "completed"


@pytest.mark.parametrize("case", load_cases("run_cap"), ids=case_ids(load_cases("run_cap")))
def test_run_cap_cases(tmp_path, case):
    """cap-*: run_cap bounds the trials ever created, across slots; grids are truncated."""
    summary = _run(
        config=case["config"],
        function="tests.flows.trainers:sum_of_params",
        store=str(tmp_path),
        parallel=case["scenario"].get("agents", 2),
    )
    trials = open_store(str(tmp_path)).load_trials(summary["sweep_id"])
    assert len(trials) == case["expect"]["runs_created"]
    if "sequence" in case["expect"]:
        assert [dict(t.params) for t in trials] == case["expect"]["sequence"]
    assert summary["states"] == {"finished": case["expect"]["runs_created"]}


def test_metric_target_stops_new_trials(tmp_path):
    """cap-05's rule through the flow: once a trial logs loss <= target no new trial starts,
    and trials already running finish."""
    case = load_cases("target")[0]
    config = {**case["config"], "run_cap": 40}
    config["metric"] = {**config["metric"], "target": 0.15}
    summary = _run(
        config=config,
        function="tests.flows.trainers:quadratic",
        store=str(tmp_path),
        seed=1,
        parallel=1,
    )
    trials = open_store(str(tmp_path)).load_trials(summary["sweep_id"])
    reached = [i for i, t in enumerate(trials) if min(r["loss"] for r in t.history) <= 0.15]
    assert reached, "the target should be reachable within 40 trials"
    assert len(trials) == reached[0] + 1 < 40
    assert all(t.state == TrialState.FINISHED for t in trials)


def test_crashing_command_trainer_fails_its_trial_and_the_sweep_goes_on(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(
        textwrap.dedent("""
        import argparse, json, sys
        p = argparse.ArgumentParser(); p.add_argument("--x", type=float); a = p.parse_args()
        if a.x > 0.5:
            print("about to fail", file=sys.stderr)
            raise ValueError(f"x too large: {a.x}")
        print(json.dumps({"loss": a.x}))
    """)
    )
    config = {
        "method": "grid",
        "metric": {"name": "loss"},
        "program": "train.py",
        "parameters": {"x": {"values": [0.1, 0.9, 0.2]}},
    }
    summary = _run(config=config, store=str(tmp_path / "s"), work_dir=str(tmp_path))

    trials = open_store(str(tmp_path / "s")).load_trials(summary["sweep_id"])
    assert [t.state for t in trials] == ["finished", "failed", "finished"]
    assert "exited with status 1" in trials[1].error
    assert "ValueError: x too large: 0.9" in trials[1].error
    assert summary["best_trial_id"] == "t00000"


def test_sweep_gives_up_when_first_trials_all_fail_at_startup(tmp_path):
    from flows.sweep import SweepFailedError

    config = {
        "method": "random",
        "metric": {"name": "loss"},
        "parameters": {"x": {"min": 0.0, "max": 1.0}},
    }
    with pytest.raises(
        SweepFailedError, match=r"first \d+ trials all failed .*CUDA out of memory"
    ):
        _run(config=config, function="tests.flows.trainers:always_crashes", store=str(tmp_path))
    sweep_id = open_store(str(tmp_path)).list_sweeps()[0]
    trials = open_store(str(tmp_path)).load_trials(sweep_id)
    assert 5 <= len(trials) <= 8
    assert open_store(str(tmp_path)).read_state(sweep_id)["status"] == "failed"


def test_a_negative_seed_is_refused_before_the_sweep_is_stored(tmp_path):
    from flows.sweep import SweepFailedError

    config = {"method": "random", "parameters": {"x": {"min": 0.0, "max": 1.0}}}
    with pytest.raises(SweepFailedError, match=r"seed must be a whole number, 0 or more; got -1"):
        _run(
            config=config, function="tests.flows.trainers:quadratic", store=str(tmp_path), seed=-1
        )
    assert open_store(str(tmp_path)).list_sweeps() == []


def test_metric_never_logged_is_noted_and_ranked_last(tmp_path):
    """BR-09's kind (random search): the trial finishes with a 'metric missing' note naming the
    closest logged key, and such trials come after ranked ones."""
    config = {
        "method": "random",
        "metric": {"name": "test_acc_avg", "goal": "maximize"},
        "run_cap": 2,
        "parameters": {"lr": {"min": 0.0001, "max": 0.1}},
    }
    summary = _run(
        config=config, function="tests.flows.trainers:wrong_metric_key", store=str(tmp_path)
    )
    trials = open_store(str(tmp_path)).load_trials(summary["sweep_id"])
    assert all(t.state == TrialState.FINISHED for t in trials)
    assert all("metric missing" in t.note and "'test_acc_avg '" in t.note for t in trials)
    results = pd.read_csv(tmp_path / summary["sweep_id"] / "results.csv")
    assert results["test_acc_avg"].isna().all()


def test_resume_refuses_a_changed_search_space(tmp_path):
    """BR-20: a sweep id's search space is immutable; nothing is launched."""
    from sweepcore.config import SweepConfigError

    v1 = {
        "method": "random",
        "metric": {"name": "loss"},
        "run_cap": 2,
        "parameters": {"x": {"min": 0.0, "max": 1.0}},
    }
    _run(config=v1, function="tests.flows.trainers:quadratic", store=str(tmp_path), sweep_id="s1")
    v2 = {**v1, "parameters": {"x": {"min": -1.0, "max": 1.0}}}
    with pytest.raises(SweepConfigError, match=r"search space cannot change[\s\S]*x\.min"):
        _run(
            config=v2,
            function="tests.flows.trainers:quadratic",
            store=str(tmp_path),
            sweep_id="s1",
        )
    assert len(open_store(str(tmp_path)).load_trials("s1")) == 2


def test_resume_with_a_raised_run_cap_continues_the_sweep_and_keeps_the_new_cap(tmp_path):
    v1 = {
        "method": "random",
        "metric": {"name": "loss"},
        "run_cap": 2,
        "parameters": {"x": {"min": 0.0, "max": 1.0}},
    }
    store = str(tmp_path)
    function = "tests.flows.trainers:quadratic"
    _run(config=v1, function=function, store=store, sweep_id="s1", parallel=2)

    _run(config={**v1, "run_cap": 3}, function=function, store=store, sweep_id="s1", parallel=2)
    assert len(open_store(store).load_trials("s1")) == 3

    # Resumed without a config, the sweep keeps the raised cap: nothing more to run.
    summary = _run(function=function, store=store, sweep_id="s1", parallel=2)
    assert summary["states"] == {"finished": 3}
    assert open_store(store).read_config("s1")["run_cap"] == 3


def _example(name: str) -> dict:
    import yaml

    return yaml.safe_load((Path(__file__).parents[2] / "examples" / name).read_text())


def test_trial_records_are_strict_json(tmp_path):
    """Stored records never hold NaN/Infinity tokens, even for non-finite metrics."""
    config = {"method": "grid", "metric": {"name": "loss"}, "parameters": {"x": {"values": [1]}}}
    summary = _run(config=config, function="tests.flows.trainers:quadratic", store=str(tmp_path))
    paths = list((tmp_path / summary["sweep_id"]).rglob("*.json*"))
    assert any(p.suffix == ".jsonl" for p in paths)
    for path in paths:
        texts = path.read_text().splitlines() if path.suffix == ".jsonl" else [path.read_text()]
        for text in texts:
            json.loads(text, parse_constant=_refuse)


def _refuse(token: str) -> None:
    raise AssertionError(f"non-standard JSON token {token}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-x"]))


def test_trial_retries_record_each_attempt_and_never_read_a_failure_as_result(tmp_path):
    """BR-27: attempt 1 fails and attempt 2 logs 0.27 -> finished with 0.27 and both attempts
    recorded; when all 3 attempts fail the trial is failed with each error, and a later resume
    with retry_failed trains it again."""

    def config(name: str, broken: bool) -> dict:
        return br27_config(tmp_path, name, broken)

    store = open_store(str(tmp_path / "s"))
    fn = "tests.flows.trainers:fails_until_fixed"
    _run(
        config=config("a", False),
        function=fn,
        store=str(tmp_path / "s"),
        sweep_id="a",
        trial_retries=2,
    )
    (trial,) = store.load_trials("a")
    assert trial.state == "finished" and trial.summary["val_loss"] == 0.27
    assert [a.outcome for a in trial.attempts] == ["failed", "finished"]
    assert "attempt 1" in trial.attempts[0].error

    _run(
        config=config("b", True),
        function=fn,
        store=str(tmp_path / "s"),
        sweep_id="b",
        trial_retries=2,
    )
    (trial,) = store.load_trials("b")
    assert trial.state == "failed" and "val_loss" not in trial.summary
    assert [a.outcome for a in trial.attempts] == ["failed"] * 3
    assert "broken GPU" in trial.attempts[2].error

    _run(sweep_id="b", store=str(tmp_path / "s"))  # without the flag: kept as failed
    assert store.load_trials("b")[0].state == "failed"
    (tmp_path / "b-broken").unlink()  # the GPU is fixed
    _run(sweep_id="b", store=str(tmp_path / "s"), retry_failed=True)
    (trial,) = store.load_trials("b")
    assert trial.state == "finished" and trial.summary["val_loss"] == 0.27
    assert len(trial.attempts) == 4


def _interrupt_on_call(real, n: int, after: bool = False):
    """``real``, except that its ``n``-th call raises KeyboardInterrupt (a Ctrl-C there);
    with ``after``, the Ctrl-C lands just after that call has returned."""
    calls = []

    def wrapper(*args, **kwargs):
        calls.append(1)
        if len(calls) == n and not after:
            raise KeyboardInterrupt
        result = real(*args, **kwargs)
        if len(calls) == n:
            raise KeyboardInterrupt
        return result

    return wrapper


def _run_until_interrupted(tmp_path, sweep_id: str, function: str) -> list:
    """Run a random sweep with 2 slots that gets interrupted; returns its stored trials."""
    config = {
        "method": "random",
        "metric": {"name": "loss"},
        "run_cap": 8,
        "parameters": {"x": {"min": 0.0, "max": 1.0}},
    }
    with pytest.raises(KeyboardInterrupt):
        _run(
            config=config,
            function=function,
            store=str(tmp_path),
            sweep_id=sweep_id,
            parallel=2,
            seed=1,
        )
    return open_store(str(tmp_path)).load_trials(sweep_id)


def test_interrupt_while_suggesting_cancels_and_records_the_submitted_trials(
    tmp_path, monkeypatch
):
    """A Ctrl-C that lands between trials (here: in the second suggestion) still ends the
    submitted trials ``cancelled`` or recorded, and marks the sweep cancelled for a resume."""
    import flows.sweep as flow_module

    monkeypatch.setattr(
        flow_module, "suggest_trials", _interrupt_on_call(flow_module.suggest_trials, 2)
    )

    trials = _run_until_interrupted(tmp_path, "i1", "tests.flows.trainers:slow_quadratic")

    assert len(trials) == 2
    assert {t.state for t in trials} <= {TrialState.CANCELLED, TrialState.FINISHED}
    assert open_store(str(tmp_path)).read_state("i1")["status"] == "cancelled"


def test_interrupt_before_a_claimed_trial_starts_records_it_cancelled(tmp_path, monkeypatch):
    """A trial claimed in the store but interrupted before its task is submitted must not be
    left showing as running with no attempt."""
    import flows.sweep as flow_module

    task = flow_module.train_trial
    # The third call is the first trial of the second round.
    monkeypatch.setattr(task, "with_options", _interrupt_on_call(task.with_options, 3))

    trials = _run_until_interrupted(tmp_path, "i2", "tests.flows.trainers:quadratic")

    assert TrialState.RUNNING not in {t.state for t in trials}
    never_started = [t for t in trials if not t.attempts]
    assert never_started and all(t.state == TrialState.CANCELLED for t in never_started)
    assert all("before it started" in t.error for t in never_started)


def _assert_state_names_best_finished(tmp_path, sweep_id: str, trials: list) -> None:
    """The cancelled sweep's state record names its best finished trial, as a completed one's
    does."""
    losses = {t.trial_id: t.summary["loss"] for t in trials if t.state == TrialState.FINISHED}
    assert losses
    state = open_store(str(tmp_path)).read_state(sweep_id)
    assert state["status"] == "cancelled"
    assert state["best_trial_id"] == min(losses, key=losses.__getitem__)
    assert state["best_value"] == min(losses.values())
    assert state["sweep_id"] == sweep_id and state["store"] == str(tmp_path)


def test_interrupt_just_after_a_trial_ends_keeps_its_result_and_names_the_best(
    tmp_path, monkeypatch
):
    """A Ctrl-C right after the loop took a finished trial's result, before recording it:
    the trial stays finished in the store (it used to be overwritten as cancelled, "before it
    started") and the state's best trial counts it."""
    import flows.sweep as flow_module

    real, ended = flow_module._trial_result, []

    def keep_result(*args, **kwargs):
        ended.append(real(*args, **kwargs))
        return ended[-1]

    monkeypatch.setattr(flow_module, "_trial_result", _interrupt_on_call(keep_result, 1, True))

    trials = _run_until_interrupted(tmp_path, "i3", "tests.flows.trainers:quadratic")

    (first,) = ended
    stored = {t.trial_id: t for t in trials}
    assert first.state == TrialState.FINISHED
    assert stored[first.trial_id].state == TrialState.FINISHED
    assert stored[first.trial_id].summary == first.summary
    _assert_state_names_best_finished(tmp_path, "i3", trials)


def test_second_interrupt_still_records_the_cancelled_state_and_best_trial(tmp_path, monkeypatch):
    """An interrupt raised while the sweep waits for its cancelled trials (a real second
    SIGINT is ignored there, but any exception may cut the wait short) stops the waiting,
    and the state record still says ``cancelled`` and names the best trial that had
    finished."""
    import flows.sweep as flow_module
    from sweepcore.controller import SweepController

    monkeypatch.setattr(
        flow_module, "suggest_trials", _interrupt_on_call(flow_module.suggest_trials, 2)
    )
    real, recorded = SweepController.record, []

    def keep_record(self, trial):
        recorded.append(trial)
        real(self, trial)

    # Call 1 records the first ended trial; call 2 is the wait for the other, cancelled one.
    monkeypatch.setattr(SweepController, "record", _interrupt_on_call(keep_record, 2))

    trials = _run_until_interrupted(tmp_path, "i4", "tests.flows.trainers:slow_quadratic")

    assert len(trials) == 2 and recorded[0].state == TrialState.FINISHED
    # Call 2, the wait for the cancelled trial, never returned. Before the state is written
    # the store is read again (call 3), which takes the trial in only if its task has ended
    # it by then, so either count is right, but never a running trial.
    assert len(recorded) in (1, 2) and all(t.state != TrialState.RUNNING for t in recorded)
    _assert_state_names_best_finished(tmp_path, "i4", recorded)


def test_the_flows_resume_hint_names_the_store_and_keeps_the_slots(tmp_path):
    # Copied from the log after an interrupt, it must resume the same sweep with as many
    # slots (they may stand for GPUs), as the CLI's own line does.
    from flows.sweep import resume_command

    store = open_store(str(tmp_path / "st"))
    hint = resume_command(store.url, "s1", 3)

    assert hint == f"sweep run --sweep-id s1 --store {store.url} --parallel 3"


def test_interrupted_state_counts_trials_their_tasks_ended_after_the_wait(tmp_path):
    """An interrupt that cuts the wait for a trial short: its task still writes it cancelled,
    and the state record must count it so, not as running."""
    from flows.sweep import _catch_up_with_store
    from sweepcore.config import load_config
    from sweepcore.controller import SweepController
    from sweepcore.search import get_searcher

    config = load_config(
        {"method": "random", "metric": {"name": "loss"}, "parameters": {"x": {"min": 0, "max": 9}}}
    )
    controller = SweepController(config, [], parallel=2)
    for trial in controller.suggest(get_searcher("random"), 2, seed=1):
        controller.enqueue(trial)
    first, second = controller.start_next()
    store = open_store(str(tmp_path / "store"))
    store.write_trial("s", first.evolve(state=TrialState.CANCELLED, summary={"loss": 0.3}))
    store.write_trial("s", second)  # its task never got to write it

    _catch_up_with_store(store, "s", controller)

    assert controller.running == {second.trial_id}
    assert controller.summary()["states"] == {"cancelled": 1, "running": 1}


def test_the_cancelled_state_is_written_with_interrupts_ignored():
    """A second SIGINT (often delivered twice) cannot cut the state record short; the handler
    is restored afterwards."""
    import os
    import signal

    from flows.sweep import _interrupts_ignored

    before = signal.getsignal(signal.SIGINT)
    with _interrupts_ignored():
        os.kill(os.getpid(), signal.SIGINT)  # would raise KeyboardInterrupt here otherwise
        reached = True
    assert reached and signal.getsignal(signal.SIGINT) is before


def test_the_loop_sees_which_training_tasks_have_ended_without_waiting():
    # Trials that end together are all recorded before the next suggestion; the loop asks
    # each future's wrapped concurrent future, which never blocks.
    import uuid
    from concurrent.futures import Future

    from prefect.futures import PrefectConcurrentFuture

    from flows.sweep import _has_ended

    ended, running = Future(), Future()
    ended.set_result(None)

    assert _has_ended(PrefectConcurrentFuture(uuid.uuid4(), ended))
    assert not _has_ended(PrefectConcurrentFuture(uuid.uuid4(), running))
    assert not _has_ended(object())  # a runner whose futures wrap nothing: one at a time
