"""Sweeps end to end on S3 (SeaweedFS on 127.0.0.1): the digits example, a controller killed
with SIGKILL and resumed, an outage of the S3 server mid-sweep, and BR-27/BR-31 on S3."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from sweepcore.store import open_store
from sweepcore.trial import TrialState
from tests.flows.trainers import br27_config

pytestmark = [pytest.mark.slow]

REPO = Path(__file__).parents[2]
SWEEP = [sys.executable, "-m", "flows.cli"]
GRID_30 = {
    "method": "grid",
    "metric": {"name": "loss", "goal": "minimize"},
    "parameters": {"x": {"values": [0, 1, 2, 3, 4, 5]}, "y": {"values": [0, 1, 2, 3, 4]}},
}


def _sweep(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SWEEP, *args], cwd=REPO, capture_output=True, text=True, timeout=timeout
    )


def _start(*args: str, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen([*SWEEP, *args], cwd=REPO, stdout=out, stderr=subprocess.STDOUT)


def _wait_for_finished(url: str, sweep_id: str, n: int, proc, timeout_s: float = 120) -> int:
    """Poll the store until ``n`` trials of the sweep are finished; returns how many are."""
    store = open_store(url)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the sweep ended before the test could interrupt it"
        if store.sweep_exists(sweep_id):
            trials = store.load_trials(sweep_id, with_history=False)
            done = sum(t.state == TrialState.FINISHED for t in trials)
            if done >= n:
                return done
        time.sleep(0.1)
    raise AssertionError(f"fewer than {n} trials finished within {timeout_s} s")


def _points(trials) -> list[tuple]:
    return [(t.params["x"], t.params["y"]) for t in trials]


@pytest.mark.usefixtures("prefect_api")
def test_digits_example_runs_on_s3_and_export_returns_every_trial(s3_url, tmp_path):
    run = _sweep(
        "run",
        "examples/digits-svc.yaml",
        "--function",
        "examples.digits:train",
        "--store",
        s3_url,
        "--sweep-id",
        "digits",
        "--seed",
        "3",
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "sweep digits: 16 trial(s), best first" in run.stdout

    csv = _sweep("export", "digits", "--store", s3_url, "--format", "csv", timeout=60)
    assert csv.returncode == 0, csv.stderr
    frame = pd.read_csv(io.StringIO(csv.stdout))
    assert len(frame) == 16 and frame["trial_id"].is_unique
    assert set(frame["state"]) == {"finished"}
    assert frame["cv_accuracy"].iloc[0] == frame["cv_accuracy"].max() > 0.9

    out = tmp_path / "digits.json"
    exported = _sweep(
        "export", "digits", "--store", s3_url, "--format", "json", "--out", str(out), timeout=60
    )
    assert exported.returncode == 0 and exported.stdout == ""
    rows = json.loads(out.read_text())
    assert sorted(r["trial_id"] for r in rows) == sorted(frame["trial_id"])

    stored = open_store(s3_url)
    board = pd.read_csv(io.BytesIO(stored.blobs.read("digits/results.csv")))
    assert list(board["trial_id"]) == list(frame["trial_id"])
    assert stored.read_state("digits")["status"] == "completed"


@pytest.mark.usefixtures("prefect_api")
def test_controller_killed_mid_sweep_resumes_with_nothing_lost_or_run_twice(s3_url, tmp_path):
    """30 grid points, 4 parallel: SIGKILL after about 10 finished, then resume."""
    config = tmp_path / "grid30.yaml"
    config.write_text(yaml.safe_dump(GRID_30))
    first = _start(
        "run",
        str(config),
        "--function",
        "tests.flows.s3_trainers:steady",
        "--store",
        s3_url,
        "--sweep-id",
        "crash",
        "--parallel",
        "4",
        log=tmp_path / "first.log",
    )
    try:
        _wait_for_finished(s3_url, "crash", 10, first)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()

    store = open_store(s3_url)
    before = {t.trial_id: t for t in store.load_trials("crash")}
    finished_before = {k: t for k, t in before.items() if t.state == TrialState.FINISHED}
    running_before = {k for k, t in before.items() if t.state == TrialState.RUNNING}
    assert 10 <= len(finished_before) < 30 and running_before
    assert store.read_lease("crash").pid == first.pid  # the dead controller's lease is left

    resumed = _sweep("run", "--sweep-id", "crash", "--store", s3_url, "--parallel", "4")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "sweep crash: 30 trial(s)" in resumed.stdout

    after = store.load_trials("crash")
    assert len(after) == 30 and {t.state for t in after} == {TrialState.FINISHED}
    assert len({t.trial_id for t in after}) == 30
    assert len(set(_points(after))) == 30
    by_id = {t.trial_id: t for t in after}
    for trial_id, trial in finished_before.items():
        assert by_id[trial_id].summary == trial.summary
        assert by_id[trial_id].attempts == trial.attempts
        assert list(by_id[trial_id].history) == list(trial.history)
    for trial_id in running_before:  # re-queued: same id and params, a new attempt
        lost = ["lost"] if before[trial_id].attempts else []  # [] if claimed, not started
        assert [a.outcome for a in by_id[trial_id].attempts] == [*lost, "finished"]
        assert by_id[trial_id].params == before[trial_id].params
    assert any(before[k].attempts for k in running_before), "no attempt was cut short"
    assert store.read_lease("crash") is None


@pytest.mark.usefixtures("prefect_api")
def test_sweep_rides_out_an_s3_outage_with_no_trial_lost(s3_url, s3_server, tmp_path):
    """The S3 server is stopped for a few seconds while trials run and log; the store's
    outage retries (SWEEP_S3_OUTAGE_S, 60 s by default) carry the sweep through."""
    config = tmp_path / "grid12.yaml"
    grid = {**GRID_30, "parameters": {"x": {"values": [0, 1, 2]}, "y": {"values": [0, 1, 2, 3]}}}
    config.write_text(yaml.safe_dump(grid))
    proc = _start(
        "run",
        str(config),
        "--function",
        "tests.flows.s3_trainers:steady",
        "--store",
        s3_url,
        "--sweep-id",
        "outage",
        "--parallel",
        "2",
        log=tmp_path / "outage.log",
    )
    try:
        _wait_for_finished(s3_url, "outage", 3, proc)
        s3_server.stop()  # takes about 2 s; trials go on logging meanwhile
        assert proc.poll() is None
        down_until = time.monotonic() + 2
        while time.monotonic() < down_until:  # keep it down 2 s more, watching the sweep
            assert proc.poll() is None
            time.sleep(0.1)
        s3_server.start()
        assert proc.wait(timeout=180) == 0, (tmp_path / "outage.log").read_text()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
    log = (tmp_path / "outage.log").read_text()
    assert "endpoint unreachable" in log and "retrying for up to 60 s" in log

    trials = open_store(s3_url).load_trials("outage")
    assert len(trials) == 12 and {t.state for t in trials} == {TrialState.FINISHED}
    assert len(set(_points(trials))) == 12
    assert all(len(t.attempts) == 1 for t in trials)
    assert all(len(t.history) == 3 for t in trials)


@pytest.mark.usefixtures("prefect_api")
def test_wrong_secret_fails_the_flow_before_any_trial(s3_url, monkeypatch):
    """BR-31 case 3 through the flow: Failed, naming the endpoint and 'invalid credentials'."""
    from flows.sweep import sweep

    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret")
    state = sweep(
        config=GRID_30,
        function="tests.flows.s3_trainers:steady",
        store=s3_url,
        sweep_id="denied",
        return_state=True,
    )
    assert state.is_failed()
    assert "(endpoint http://127.0.0.1:8333): invalid credentials (signature mismatch)" in (
        state.message
    )
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", os.environ["AWS_ACCESS_KEY_ID"] and "testsecret")
    assert open_store(s3_url).list_sweeps() == []


def test_cli_refuses_wrong_credentials_in_one_line(s3_url, monkeypatch, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(GRID_30))
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret")
    result = _sweep("run", str(config), "--store", s3_url, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"sweep run: {s3_url} (endpoint http://127.0.0.1:8333): invalid credentials "
        "(signature mismatch) while listing the bucket"
    ]


@pytest.mark.usefixtures("prefect_api")
def test_trial_retries_on_s3_never_read_a_failure_as_a_result(s3_url, tmp_path):
    """BR-27 on S3: attempt 1 fails and attempt 2 logs 0.27; when every attempt fails the
    trial is failed with each error, kept on resume, and retrained with retry_failed."""
    from flows.sweep import sweep

    def config(name: str, broken: bool) -> dict:
        return br27_config(tmp_path, name, broken)

    fn = "tests.flows.trainers:fails_until_fixed"
    store = open_store(s3_url)
    sweep(config=config("a", False), function=fn, store=s3_url, sweep_id="a", trial_retries=2)
    (trial,) = store.load_trials("a")
    assert trial.state == "finished" and trial.summary["val_loss"] == 0.27
    assert [a.outcome for a in trial.attempts] == ["failed", "finished"]

    sweep(config=config("b", True), function=fn, store=s3_url, sweep_id="b", trial_retries=2)
    (trial,) = store.load_trials("b")
    assert trial.state == "failed" and "val_loss" not in trial.summary
    assert [a.outcome for a in trial.attempts] == ["failed"] * 3
    assert all("CUDA out of memory" in a.error for a in trial.attempts)

    sweep(sweep_id="b", store=s3_url)
    assert store.load_trials("b")[0].state == "failed"
    (tmp_path / "b-broken").unlink()
    sweep(sweep_id="b", store=s3_url, retry_failed=True)
    (trial,) = store.load_trials("b")
    assert trial.state == "finished" and trial.summary["val_loss"] == 0.27
    assert len(trial.attempts) == 4
