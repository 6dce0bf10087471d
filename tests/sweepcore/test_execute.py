"""One attempt of a trial (sweepcore.execute): how each way a trainer can go wrong is recorded.

Every case runs a real trainer (a Python function in this file, or a Python program in a
subprocess) against a real local store, and checks the state, error and note the trial ends
with, and that the record in the store says the same.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from sweepcore import execute
from sweepcore.config import load_config
from sweepcore.execute import Trainer, TrainerError, cancel_running, check_trainer, run_attempt
from sweepcore.store import LocalBlobStore, ResultStore
from sweepcore.trial import Trial, TrialState

CONFIG = load_config(
    {"method": "random", "metric": {"name": "loss"}, "parameters": {"x": {"value": 1}}}
)


@pytest.fixture
def store(tmp_path: Path) -> ResultStore:
    return ResultStore(LocalBlobStore(tmp_path / "store"))


@pytest.fixture
def short_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    """A trainer that ignores a stop request is given 0.3 s instead of 10 s."""
    monkeypatch.setattr(execute, "KILL_GRACE_S", 0.3)


def _attempt(store: ResultStore, trainer: Trainer, config: Any = CONFIG) -> Trial:
    trial = Trial("t00000", 0, {"x": 1})
    assert store.claim_trial("s", trial)
    done = run_attempt(store, "s", config, trial, trainer)
    stored = store.load_trial("s", "t00000")
    assert (stored.state, stored.error, stored.note) == (done.state, done.error, done.note)
    return done


def _program_config(program: Path) -> Any:
    """A one-point sweep whose trainer is the command ``program``, minimising ``loss``."""
    return load_config(
        {
            "method": "random",
            "metric": {"name": "loss"},
            "program": str(program),
            "parameters": {"x": {"value": 1}},
        }
    )


def exits_3(config: dict[str, Any], run: Any) -> None:
    run.log({"loss": 0.5})
    sys.exit(3)


def hangs(config: dict[str, Any], run: Any) -> None:
    """Never looks at run.should_stop and never returns on its own (until released)."""
    RELEASE.wait(timeout=60)


def overruns(config: dict[str, Any], run: Any) -> None:
    """Runs past a 0.2 s limit without looking at run.should_stop, then returns."""
    time.sleep(0.6)
    run.log({"loss": 0.1})


def returns_metrics(config: dict[str, Any], run: Any) -> dict[str, float]:
    return {"loss": 0.25, "accuracy": 0.9}


def returns_a_float(config: dict[str, Any], run: Any) -> float:
    return 0.25


def logs_an_object(config: dict[str, Any], run: Any) -> None:
    run.log({"loss": 0.1, "model": object()})


def waits_for_stop(config: dict[str, Any], run: Any) -> None:
    STARTED.set()
    while not run.should_stop:
        time.sleep(0.02)


RELEASE = threading.Event()
STARTED = threading.Event()


def test_sys_exit_in_a_function_fails_only_its_trial(store):
    done = _attempt(store, Trainer(function=exits_3))
    assert done.state == TrialState.FAILED
    assert done.error.startswith("SystemExit: 3")
    assert done.summary == {"loss": 0.5}


def test_a_returned_dict_of_metrics_is_logged_as_the_last_step(store):
    done = _attempt(store, Trainer(function=returns_metrics))
    assert done.state == TrialState.FINISHED
    assert done.summary == {"loss": 0.25, "accuracy": 0.9}


def test_a_returned_float_is_named_as_ignored(store, caplog):
    with caplog.at_level(logging.WARNING, logger="sweepcore.execute"):
        done = _attempt(store, Trainer(function=returns_a_float))
    assert done.state == TrialState.FINISHED
    assert done.summary == {}
    assert "returned a float, which is ignored" in caplog.text


def test_function_ignoring_its_time_limit_is_abandoned_as_timed_out(store, short_grace):
    RELEASE.clear()
    started = time.monotonic()
    try:
        done = _attempt(store, Trainer(function=hangs, timeout_s=0.2))
    finally:
        RELEASE.set()
    assert done.state == TrialState.TIMED_OUT
    assert "abandoned" in done.error
    assert done.error.startswith("ran past its time limit of 0.2 s (set by --trial-timeout)")
    assert time.monotonic() - started < 5


def test_function_that_overran_its_limit_is_timed_out_even_if_it_returned(store):
    done = _attempt(store, Trainer(function=overruns, timeout_s=0.2))
    assert done.state == TrialState.TIMED_OUT
    assert done.error == "ran past its time limit of 0.2 s (set by --trial-timeout)"


def test_logging_a_value_that_cannot_be_stored_fails_the_trial_naming_the_key(store):
    done = _attempt(store, Trainer(function=logs_an_object))
    assert done.state == TrialState.FAILED
    assert "the value of 'model' (of type object) cannot be stored" in done.error
    assert done.history == ()


def test_cancel_running_ends_a_function_trial_as_cancelled(store):
    STARTED.clear()
    canceller = threading.Thread(
        target=lambda: STARTED.wait(10) and cancel_running("the sweep was cancelled")
    )
    canceller.start()
    done = _attempt(store, Trainer(function=waits_for_stop))
    canceller.join()
    assert done.state == TrialState.CANCELLED
    assert done.error == "the sweep was cancelled"


def test_cancel_running_terminates_a_command_trainer(store, tmp_path):
    program = tmp_path / "sleepy.py"
    program.write_text(
        "import json, time\nprint(json.dumps({'loss': 1.0}), flush=True)\ntime.sleep(60)\n"
    )
    config = _program_config(program)

    def cancel_once_logged() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not cancel_running("cancelled by the user"):
            time.sleep(0.05)

    canceller = threading.Thread(target=cancel_once_logged)
    canceller.start()
    started = time.monotonic()
    done = _attempt(store, Trainer(work_dir=str(tmp_path)), config)
    canceller.join()
    assert done.state == TrialState.CANCELLED
    assert done.error.startswith("cancelled by the user; the program was terminated")
    assert time.monotonic() - started < 20


def test_command_failure_first_line_carries_the_programs_last_words(store, tmp_path):
    program = tmp_path / "crash.py"
    program.write_text("import sys\nprint('loading data', file=sys.stderr)\nsys.exit('bad lr')\n")
    config = _program_config(program)
    done = _attempt(store, Trainer(work_dir=str(tmp_path)), config)
    assert done.state == TrialState.FAILED
    assert done.error.splitlines()[0] == "exited with status 1: bad lr"
    assert "loading data" in done.error


def test_a_cut_off_metrics_line_is_named_once_in_the_log(store, tmp_path, caplog):
    program = tmp_path / "cut.py"
    program.write_text(
        "import json\nprint(json.dumps({'loss': 0.5}))\n"
        'print(\'{"loss": 0.4, "acc\')\nprint(\'{"loss": 0.3,\')\n'
    )
    config = _program_config(program)
    with caplog.at_level(logging.WARNING, logger="sweepcore.execute"):
        done = _attempt(store, Trainer(work_dir=str(tmp_path)), config)
    assert done.state == TrialState.FINISHED and done.summary == {"loss": 0.5}
    warnings = [
        r.getMessage() for r in caplog.records if "ignored a stdout line" in r.getMessage()
    ]
    assert len(warnings) == 1 and warnings[0].endswith('{"loss": 0.4, "acc')
    assert done.trial_id in warnings[0]


@pytest.mark.parametrize(
    ("rows", "note"),
    [
        ([{"loss": float("nan")}, {"loss": float("inf")}], "metric not finite: 'loss'"),
        ([{"loss": "0.3"}], "metric not a number: 'loss' was logged as '0.3' (str)"),
        ([{"loss ": 0.3}], "closest logged key: 'loss '"),
        ([{"Loss": 0.3}], "closest logged key: 'Loss'"),
        ([{"acc": 0.9}], "metric missing: 'loss' was never logged (logged keys: 'acc')"),
    ],
)
def test_finished_trial_without_a_finite_metric_gets_a_note_saying_why(store, rows, note):
    def trainer(config: dict[str, Any], run: Any) -> None:
        for row in rows:
            run.log(row)

    done = _attempt(store, Trainer(function=trainer))
    assert done.state == TrialState.FINISHED
    assert note in done.note


def test_check_trainer_refuses_a_missing_program_or_no_trainer(tmp_path):
    no_trainer = load_config({"method": "random", "parameters": {"x": {"value": 1}}})
    with pytest.raises(TrainerError, match="neither program nor command"):
        check_trainer(no_trainer, Trainer())
    missing = load_config(
        {"method": "random", "program": "nope.py", "parameters": {"x": {"value": 1}}}
    )
    with pytest.raises(TrainerError, match=r"'nope\.py' does not exist in the work folder"):
        check_trainer(missing, Trainer(work_dir=str(tmp_path)))
    (tmp_path / "nope.py").write_text("")
    check_trainer(missing, Trainer(work_dir=str(tmp_path)))
    with pytest.raises(TrainerError, match="cannot import"):
        check_trainer(no_trainer, Trainer(function="no_such_module_here:train"))


def test_check_trainer_refuses_a_function_that_cannot_take_config_and_run():
    config = load_config({"method": "random", "parameters": {"x": {"value": 1}}})

    def wandb_style() -> None:  # a W&B trainer calls wandb.init() and takes no arguments
        pass

    def keyword_only(*, config: Any, run: Any) -> None:
        pass

    for bad in (wandb_style, keyword_only):
        with pytest.raises(TrainerError, match=r"cannot be called as .*\(config, run\)"):
            check_trainer(config, Trainer(function=bad))
    check_trainer(config, Trainer(function=lambda config, run=None, **extra: None))
