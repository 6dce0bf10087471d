"""Run one attempt of a trial: a Python function or a command, with logging to the store.

:func:`run_attempt` is what a training task calls. It opens a new attempt on the trial, runs the
trainer, streams its metric rows to the store, and returns the trial in its end state:

* ``finished``: the function returned, or the command exited 0;
* ``failed``: the function raised, or the command exited non-zero or was killed by a signal
  it did not receive from us (the error holds the exception or the tail of stderr);
* ``stopped``: a stop was requested (early termination) and the trainer ended;
* ``timed_out``: it ran past ``timeout_s``.

The attempt and the trial record are written to the store before it returns, so a finished trial
is never lost even if the controller dies a moment later.
"""

from __future__ import annotations

import collections
import contextlib
import contextvars
import ctypes
import difflib
import importlib
import importlib.util
import inspect
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sweepcore.command import build_launch, parse_metrics_line, write_launch_files
from sweepcore.config.model import SweepConfig
from sweepcore.run import TIME_LIMIT, Run
from sweepcore.store.base import ResultStore, StoreError
from sweepcore.trial import Attempt, Trial, TrialState, finite_metric_values, has_logged_metric

__all__ = [
    "Trainer",
    "TrainerError",
    "allow_running",
    "cancel_running",
    "check_trainer",
    "resolve_function",
    "run_attempt",
]

logger = logging.getLogger(__name__)

#: Seconds a command gets between SIGTERM and SIGKILL when it must stop.
KILL_GRACE_S = 10.0
#: Lines of stderr kept for the error message of a failed command.
STDERR_TAIL_LINES = 30


#: Runs of the attempts under way in this process, for :func:`cancel_running`.
_LIVE_RUNS: set[Run] = set()
#: Sweeps cancelled in this process, with the reason: their attempts not yet started never
#: start (a training task may be submitted but not yet running when the user interrupts).
_CANCELLED: dict[str, str] = {}
_LIVE_LOCK = threading.Lock()


def cancel_running(reason: str, sweep_id: str | None = None) -> int:
    """Cancel the attempts running in this process (the user interrupted the sweep).

    Command trainers are terminated (SIGTERM to their process group, SIGKILL after
    :data:`KILL_GRACE_S`); Python trainers see ``run.should_stop``. Each trial then ends
    ``cancelled`` and is written to the store, and a resume runs it again. Attempts of the
    sweep that had not started yet end ``cancelled`` without running, until
    :func:`allow_running` is called for the sweep.

    Args:
        reason: Recorded as the trials' error.
        sweep_id: Cancel this sweep's attempts only; ``None`` cancels every attempt.

    Returns:
        How many running attempts were cancelled.
    """
    with _LIVE_LOCK:
        if sweep_id is not None:
            _CANCELLED[sweep_id] = reason
        runs = [r for r in _LIVE_RUNS if sweep_id is None or r.sweep_id == sweep_id]
    for run in runs:
        run.cancel(reason)
    return len(runs)


def allow_running(sweep_id: str) -> None:
    """Let the sweep's attempts run again in this process (a new run of a cancelled sweep)."""
    with _LIVE_LOCK:
        _CANCELLED.pop(sweep_id, None)


class TrainerError(ValueError):
    """The trainer cannot be set up (bad ``--function``, missing ``program``)."""


@dataclass(frozen=True)
class Trainer:
    """What trains a trial: a Python callable or the config's ``program``/``command``.

    Attributes:
        function: ``train(config, run)``, or ``"module:callable"`` / ``"path/to/file.py:name"``
            to import; ``None`` means run the config's command.
        work_dir: Folder the command runs in and where W&B-style param files are written.
        timeout_s: Time limit of one attempt, or ``None``.
    """

    function: Callable[..., Any] | str | None = None
    work_dir: str = "."
    timeout_s: float | None = None


def resolve_function(spec: Callable[..., Any] | str) -> Callable[..., Any]:
    """Import ``"module:callable"`` (or ``"file.py:callable"``); callables pass through.

    The current folder is put on ``sys.path`` first, as ``python -m`` would, so a project's
    own modules import from where the user runs ``sweep``.

    Raises:
        TrainerError: The spec is malformed or the module or name cannot be found.
    """
    if callable(spec):
        return spec
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise TrainerError(
            f"--function: {spec!r} is not of the form MODULE:CALLABLE (e.g. examples.digits:train)"
        )
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        if module_name.endswith(".py"):
            path = Path(module_name).resolve()
            loader_spec = importlib.util.spec_from_file_location(path.stem, path)
            if loader_spec is None or loader_spec.loader is None or not path.exists():
                raise ImportError(f"no file {path}")
            module = importlib.util.module_from_spec(loader_spec)
            loader_spec.loader.exec_module(module)
        else:
            module = importlib.import_module(module_name)
    except ImportError as exc:
        raise TrainerError(f"--function: cannot import {module_name!r} ({exc})") from exc
    func = getattr(module, attr, None)
    if not callable(func):
        raise TrainerError(f"--function: {module_name!r} has no callable named {attr!r}")
    return func  # type: ignore[no-any-return]


def check_trainer(config: SweepConfig, trainer: Trainer) -> None:
    """Fail before any trial starts when the trainer cannot possibly run.

    Checks that a function imports, or that the config has a ``program``/``command`` and that
    a ``program`` the command runs exists in the work folder.

    Raises:
        TrainerError: What is missing and how to give it.
    """
    if trainer.function is not None:
        _check_signature(resolve_function(trainer.function))
        return
    if config.program is None and config.command is None:
        raise TrainerError(
            "program: the config has neither program nor command, and no trainer function was "
            "given; pass --function MODULE:CALLABLE or add program: train.py to the config"
        )
    runs_program = config.command is None or any("${program}" in str(c) for c in config.command)
    if config.program is not None and runs_program:
        path = Path(trainer.work_dir, config.program)
        if not path.is_file():
            raise TrainerError(
                f"program: {config.program!r} does not exist in the work folder "
                f"{str(Path(trainer.work_dir).resolve())!r}; pass --work-dir DIR (the folder "
                "the program is in) or fix the path"
            )


def _check_signature(func: Callable[..., Any]) -> None:
    """Refuse a function that cannot be called as ``func(config, run)``.

    A W&B trainer takes no arguments (it calls ``wandb.init()``); run as it is, every trial
    would fail with the same TypeError.
    """
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):  # some builtins and C callables have none
        return
    try:
        signature.bind({}, None)
    except TypeError as exc:
        name = getattr(func, "__qualname__", repr(func))
        raise TrainerError(
            f"--function: {name}{signature} cannot be called as {name}(config, run) ({exc}); "
            "a trainer takes the trial's values and a run to log to, e.g. "
            "def train(config, run): run.log({'loss': ...})"
        ) from exc


def run_attempt(
    store: ResultStore, sweep_id: str, config: SweepConfig, trial: Trial, trainer: Trainer
) -> Trial:
    """Run one new attempt of ``trial`` and return the trial in its end state.

    Args:
        store: Where history and the trial record go.
        sweep_id: The sweep.
        config: The sweep config (metric name, program, command).
        trial: The trial to run; its earlier attempts are kept.
        trainer: What to run.

    Returns:
        The trial with its new attempt closed, state set, summary and history filled. It has
        already been written to the store.
    """
    number = len(trial.attempts) + 1
    started = time.time()
    trial = trial.evolve(
        state=TrialState.RUNNING,
        error=None,
        note=None,
        attempts=(*trial.attempts, Attempt(number=number, started_at=started)),
    )
    if number > 1:  # a stop marker can only be left by an earlier attempt
        store.clear_stop(sweep_id, trial.trial_id)
    store.write_trial(sweep_id, trial)

    deadline = started + trainer.timeout_s if trainer.timeout_s else None
    limit = (
        f"ran past its time limit of {trainer.timeout_s:g} s (set by --trial-timeout)"
        if trainer.timeout_s
        else TIME_LIMIT
    )
    writer = store.history_writer(sweep_id, trial.trial_id, number)
    run = Run(
        trial.trial_id,
        sweep_id,
        trial.params,
        writer=writer,
        stop_check=lambda: _stop_reason(store, sweep_id, trial.trial_id),
        deadline=deadline,
        time_limit_reason=limit,
    )
    with _LIVE_LOCK:
        cancelled = _CANCELLED.get(sweep_id)
        if cancelled is None:
            _LIVE_RUNS.add(run)
    state: TrialState
    error: str | None
    try:
        if cancelled is not None:
            state, error = TrialState.CANCELLED, f"{cancelled}; the trial had not started"
        elif trainer.function is not None:
            state, error = _run_function(resolve_function(trainer.function), run)
        else:
            state, error = _run_command(config, trial, run, trainer)
    finally:
        with _LIVE_LOCK:
            _LIVE_RUNS.discard(run)
    run.flush()
    writer.close()  # rows a failed flush kept; raises if the store is still down

    note = _missing_metric_note(config, run, state)
    ended = Attempt(number, started, time.time(), str(state), error)
    done = trial.evolve(
        state=state,
        history=tuple(run.history),
        summary=dict(run.summary),
        error=error,
        note=note,
        attempts=(*trial.attempts[:-1], ended),
    )
    store.write_trial(sweep_id, done)
    return done


def _stop_reason(store: ResultStore, sweep_id: str, trial_id: str) -> str | None:
    """The trial's stop request; a store that cannot be read now means no request yet.

    The trainer polls this while it runs, so a store hiccup must not fail the trial.
    """
    try:
        return store.stop_requested(sweep_id, trial_id)
    except StoreError as exc:
        logger.warning(
            "cannot read the stop marker of %s (checked again later): %s", trial_id, exc
        )
        return None


def _run_function(func: Callable[..., Any], run: Run) -> tuple[TrialState, str | None]:
    """Run ``train(config, run)`` in a thread of its own and watch it.

    A Python function cannot be killed from outside, so a time limit, a stop request or a
    cancel is first a request (``run.should_stop`` turns true). A function that ignores it for
    :data:`KILL_GRACE_S` seconds is abandoned: the attempt ends (``timed_out``, ``stopped`` or
    ``cancelled``) and frees its slot, but the thread runs on in the background until it
    returns or the process exits, and its later ``run.log`` calls are refused. A trainer that
    must be killed for sure belongs in a command (``program``/``command``), whose process
    group is terminated.
    """
    raised: list[BaseException] = []

    def call() -> None:
        try:
            returned = func(dict(run.config), run)
            # Trainers written for Optuna-style objectives return their result. A returned
            # dict of metrics is logged as the last step; anything else would be lost
            # silently (the trial would finish without its metric), so it is named.
            if isinstance(returned, Mapping):
                run.log(returned)
            elif returned is not None:
                logger.warning(
                    "trial %s: the trainer returned a %s, which is ignored; log metrics with "
                    "run.log({...}) or return a dict of them",
                    run.trial_id,
                    type(returned).__name__,
                )
        except BaseException as exc:  # sys.exit() too: it fails this trial, not the sweep
            raised.append(exc)

    context = contextvars.copy_context()  # the caller's logging/run context, in the thread
    thread = threading.Thread(
        target=context.run, args=(call,), name=f"trainer-{run.trial_id}", daemon=True
    )
    thread.start()
    asked_at: float | None = None
    while thread.is_alive():
        thread.join(timeout=0.5)
        if asked_at is None and run.should_stop:
            asked_at = time.monotonic()
        if asked_at is not None and time.monotonic() - asked_at > KILL_GRACE_S:
            run.close()
            state = _stop_state(run)
            return state, (
                f"{run.stop_reason}; the function did not return within {KILL_GRACE_S:.0f} s "
                "of being asked to stop and was abandoned (it may run on until the sweep "
                "ends; use a command trainer for a hard limit)"
            )

    run.close()
    if raised:
        exc = raised[0]
        tail = "".join(traceback.format_exception(exc)[-6:]).strip()
        return TrialState.FAILED, f"{type(exc).__name__}: {exc}\n{tail}"
    if run.should_stop:  # also true when the function overran its limit without looking
        return _stop_state(run), run.stop_reason
    return TrialState.FINISHED, None


def _stop_state(run: Run) -> TrialState:
    """The end state of a trial whose run was asked to stop."""
    if run.is_cancelled:
        return TrialState.CANCELLED
    if run.timed_out:
        return TrialState.TIMED_OUT
    return TrialState.STOPPED


def _missing_metric_note(config: SweepConfig, run: Run, state: TrialState) -> str | None:
    """Say so when a finished trial has no finite value of the sweep's metric, and why.

    Three cases read differently to the user: the metric was logged, but only as NaN or
    infinity; it was logged, but never as a number (``"0.3"`` is a string); or it was never
    logged at all, in which case the nearest logged key is named (a trailing space or a
    different case is the usual cause).
    """
    if config.metric is None or state != TrialState.FINISHED:
        return None
    name = config.metric.name
    probe = Trial(run.trial_id, 0, {}, history=tuple(run.history), summary=run.summary)
    if finite_metric_values(probe, name):
        return None
    if has_logged_metric(probe, name):
        return f"metric not finite: {name!r} was logged only as NaN or infinity"
    logged_values = [row[name] for row in run.history if name in row]
    if logged_values:
        return (
            f"metric not a number: {name!r} was logged as {logged_values[-1]!r} "
            f"({type(logged_values[-1]).__name__}); log it as a number"
        )

    logged = sorted({k for row in run.history for k in row if not k.startswith("_")})
    same = [k for k in logged if k.strip().lower() == name.strip().lower()]
    close = same or difflib.get_close_matches(name, logged, n=1, cutoff=0.6)
    hint = f"; closest logged key: {close[0]!r}" if close else ""
    shown = ", ".join(repr(k) for k in logged[:10]) or "none"
    return f"metric missing: {name!r} was never logged (logged keys: {shown}){hint}"


# -- command trainers ---------------------------------------------------------------------


def _run_command(
    config: SweepConfig, trial: Trial, run: Run, trainer: Trainer
) -> tuple[TrialState, str | None]:
    work_dir = str(Path(trainer.work_dir).resolve())
    launch = build_launch(
        trial.params,
        program=config.program,
        command=config.command,
        sweep_id=run.sweep_id,
        run_id=trial.trial_id,
        work_dir=work_dir,
    )
    write_launch_files(launch)
    env = {**os.environ, **launch.env}
    # ${interpreter} is the literal `python`, as in W&B. Putting this interpreter's folder
    # first on PATH makes it the venv's python even when the venv is not activated.
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    env["PYTHONUNBUFFERED"] = "1"

    try:
        proc = subprocess.Popen(
            launch.argv,
            cwd=work_dir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
    except OSError as exc:
        return TrialState.FAILED, f"cannot start {launch.argv[0]!r}: {exc}"
    return _supervise(proc, run)


def _supervise(proc: subprocess.Popen[str], run: Run) -> tuple[TrialState, str | None]:
    """Feed the child's JSON lines to ``run``; stop or kill it when asked or out of time."""
    lines: queue.Queue[str | None] = queue.Queue()
    stderr_tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
    readers = [
        threading.Thread(target=_pump, args=(proc.stdout, lines.put, True), daemon=True),
        threading.Thread(target=_pump, args=(proc.stderr, stderr_tail.append, False), daemon=True),
    ]
    for reader in readers:
        reader.start()

    ended_by: str | None = None
    warned = False
    while True:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            line = ""
        if line is None:  # stdout closed: the program is exiting
            break
        metrics = parse_metrics_line(line) if line else None
        if metrics:
            step = metrics.pop("_step", None)
            run.log(metrics, step=step if isinstance(step, int) else None)
        elif not warned and line.lstrip().startswith("{"):
            # Most likely a report cut off or mistyped: without a word here, the metric it
            # held would only be missed at the end, as "never logged".
            warned = True
            logger.warning(
                "trial %s: ignored a stdout line that starts like a metrics report but is not "
                "one JSON object (cut off or malformed; print one json.dumps(...) per line): "
                "%.200s",
                run.trial_id,
                line.strip(),
            )
        if ended_by is None and run.should_stop:
            ended_by = run.stop_reason
            _terminate(proc)
    returncode = proc.wait()
    for reader in readers:
        reader.join(timeout=5)

    if ended_by is not None:
        return _stop_state(run), f"{ended_by}; the program was terminated ({returncode})"
    if returncode == 0:
        return TrialState.FINISHED, None
    how = (
        f"killed by signal {signal.Signals(-returncode).name}"
        if returncode < 0
        else f"exited with status {returncode}"
    )
    tail = [line for line in stderr_tail if line.strip()]
    if not tail:
        return TrialState.FAILED, how
    # The first line is what tables show: make it carry the program's last words.
    return TrialState.FAILED, f"{how}: {tail[-1].strip()}\nstderr tail:\n" + "\n".join(tail)


def _pump(stream: Any, put: Callable[[Any], None], mark_end: bool) -> None:
    """Copy ``stream``'s lines to ``put``; ``None`` marks the end when ``mark_end``."""
    for line in stream:
        put(line.rstrip("\n"))
    if mark_end:
        put(None)


def _terminate(proc: subprocess.Popen[str]) -> None:
    """SIGTERM the program's process group, then SIGKILL after a grace period."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return

    def kill_later() -> None:
        try:
            proc.wait(timeout=KILL_GRACE_S)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

    threading.Thread(target=kill_later, daemon=True).start()


def _load_prctl() -> Callable[[], None] | None:
    """On Linux, a pre-exec hook that kills the child when the controller dies.

    Without it a controller killed with SIGKILL would leave its training processes running,
    spending the machine on trials whose results nobody records. Resolved here, in the parent,
    so the hook runs no import between fork and exec.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1

    def hook() -> None:
        prctl(pr_set_pdeathsig, signal.SIGKILL)

    return hook


_die_with_parent = _load_prctl()
