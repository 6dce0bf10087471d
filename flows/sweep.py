"""The sweep flow: suggest, train in parallel, persist, repeat until the budget is spent.

Run it from the CLI (``sweep run``) or from Python, as W&B's ``wandb.sweep`` +
``wandb.agent(function=...)`` users expect::

    from flows.sweep import sweep
    sweep(config="examples/digits-svc.yaml", function="examples.digits:train")

It is a Prefect flow like any other (``sweep.serve(name=...)`` makes a deployment of it); the
project's own deployments are not written yet.

Each loop turn: the controller says how many new trials may start; the suggest task proposes
them; they are claimed in the store and submitted as training tasks (at most ``parallel`` at
once). As soon as one ends, its record is already in the store, and the next turn suggests from
the full history. At the end the leaderboard is written to the store and shown in the UI.
"""

from __future__ import annotations

import contextlib
import dataclasses
import secrets
import shlex
import signal
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import Flow, get_run_logger
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.exceptions import TerminationSignal
from prefect.futures import PrefectFuture, as_completed
from prefect.states import Failed
from prefect.task_runners import ThreadPoolTaskRunner

from sweepcore.config import (
    SweepConfig,
    SweepConfigError,
    load_config,
    require_same_search_space,
)
from sweepcore.controller import SweepController
from sweepcore.execute import (
    Trainer,
    TrainerError,
    allow_running,
    cancel_running,
    check_trainer,
)
from sweepcore.search.grid import grid_size
from sweepcore.store import (
    Lease,
    LeaseHeldError,
    ResultStore,
    StoreError,
    SweepNotFoundError,
    open_store,
)
from sweepcore.trial import Trial, TrialState
from tasks import (
    claim_trials,
    load_sweep_trials,
    persist_trials,
    publish_results,
    suggest_trials,
    train_trial,
)

__all__ = ["SweepFailedError", "new_sweep_id", "sweep"]

#: Seconds a controller's lease lives without a heartbeat.
LEASE_TTL_S = 30.0
#: Refresh the leaderboard in the store after this many ended trials.
RESULTS_EVERY = 5


class SweepFailedError(RuntimeError):
    """The sweep could not go on (e.g. its first trials all failed at start-up)."""


class _SweepFlow(Flow[..., dict[str, Any]]):
    """A flow whose call first starts Prefect's temporary API out of Ctrl-C's reach.

    Called from a script in a terminal without ``PREFECT_API_URL``, Prefect starts that API as
    a child process, which a Ctrl-C stops together with the sweep: the sweep then waited minutes
    on a dead API before it could record its cancelled trials (see ``flows.localapi``). The
    ``sweep`` command and a call from Python both come through here. A copy made by
    ``with_options`` is a plain flow again, without this.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from flows import apply_prefect_defaults
        from flows.localapi import start_local_api

        # Prefect has read its settings by now, but the API server started next reads these.
        apply_prefect_defaults()
        start_local_api()
        return super().__call__(*args, **kwargs)


def _as_sweep_flow(fn: Callable[..., dict[str, Any]]) -> _SweepFlow:
    return _SweepFlow(fn=fn, name="sweep", task_runner=ThreadPoolTaskRunner(max_workers=64))


@_as_sweep_flow
def sweep(
    config: str | dict[str, Any] | None = None,
    function: str | Callable[..., Any] | None = None,
    store: str | None = None,
    sweep_id: str | None = None,
    parallel: int = 4,
    seed: int | None = None,
    trial_timeout: float | None = None,
    retry_failed: bool = False,
    work_dir: str | None = None,
    trial_retries: int = 0,
) -> dict[str, Any]:
    """Run (or resume) a sweep.

    Args:
        config: Path to a W&B sweep YAML, or the config as a dict. May be left out when
            ``sweep_id`` names a stored sweep; when given for a stored sweep, its search space
            must match the stored one.
        function: The Python trainer ``train(config, run)``, or ``"module:callable"``. When
            ``None``, the config's ``program``/``command`` runs instead.
        store: A folder or ``s3://bucket/prefix``; default ``SWEEP_STORE`` or ``./sweeps``.
        sweep_id: Resume this sweep if it exists, else create it with this id.
        parallel: Most trials training at once.
        seed: Seed of the search; stored with the sweep so a resume continues the same way.
        trial_timeout: Seconds one attempt may run before it is ``timed_out``.
        retry_failed: On resume, run failed and timed-out trials again.
        work_dir: Folder command trainers run in; default the current folder for a new sweep,
            and the folder the sweep was created with when resuming.
        trial_retries: Times a failed trial is run again at once (each run is an attempt).

    Returns:
        ``sweep_id``, the store URL, counts per state, the best trial and its value.
    """
    try:
        return _run_sweep(
            config=config,
            function=function,
            store=store,
            sweep_id=sweep_id,
            parallel=parallel,
            seed=seed,
            trial_timeout=trial_timeout,
            retry_failed=retry_failed,
            work_dir=work_dir,
            trial_retries=trial_retries,
        )
    except (SweepConfigError, StoreError, TrainerError, SweepFailedError) as exc:
        # Problems the user can fix end the run as Failed with one clear message, not a
        # traceback from deep inside; Python callers still get the exception raised.
        get_run_logger().error("%s", exc)
        return Failed(message=str(exc), data=exc)  # type: ignore[return-value]


def _run_sweep(
    config: str | dict[str, Any] | None,
    function: str | Callable[..., Any] | None,
    store: str | None,
    sweep_id: str | None,
    parallel: int,
    seed: int | None,
    trial_timeout: float | None,
    retry_failed: bool,
    work_dir: str | None,
    trial_retries: int,
) -> dict[str, Any]:
    logger = get_run_logger()
    result_store = open_store(store)
    result_store.blobs.check()
    trainer = Trainer(function=function, work_dir=work_dir or ".", timeout_s=trial_timeout)
    opened = _open_sweep(result_store, config, sweep_id, seed, trainer, work_dir)
    cfg, sweep_id, seed, trainer = opened.config, opened.sweep_id, opened.seed, opened.trainer
    allow_running(sweep_id)  # this process may have cancelled the sweep before

    lease = _acquire_lease(result_store, sweep_id)
    heartbeat = _Heartbeat(result_store, sweep_id, lease)
    try:
        controller = SweepController(
            cfg,
            load_sweep_trials(result_store, sweep_id),
            parallel=parallel,
            retry_failed=retry_failed,
            grid_size=grid_size(cfg) if cfg.method == "grid" else None,
        )
        persist_trials(result_store, sweep_id, controller.recovered)
        futures: dict[str, PrefectFuture[Trial]] = {}
        try:
            _run_loop(result_store, sweep_id, controller, trainer, seed, trial_retries, futures)
            publish_results(result_store, sweep_id, controller, final=True)
        except (KeyboardInterrupt, TerminationSignal):  # Ctrl-C, or SIGTERM: cancel, then stop
            # Wherever the interrupt lands (waiting for a trial, suggesting, claiming, writing
            # the final results), the trials already submitted are ended and recorded, and
            # the sweep is marked cancelled rather than left "running".
            _cancel_running(result_store, sweep_id, controller, trainer, futures)
            raise
    finally:
        heartbeat.stop()
        result_store.release_lease(sweep_id, lease)

    summary = _summary(result_store, sweep_id, controller)
    status = "failed" if controller.gave_up else "completed"
    _write_state(result_store, sweep_id, status, {"seed": seed, **summary})
    if controller.gave_up:
        raise SweepFailedError(f"sweep {sweep_id} failed: {controller.stop_reason()}")
    logger.info("sweep %s %s: %s", sweep_id, status, controller.stop_reason() or "done")
    return summary


def _run_loop(
    store: ResultStore,
    sweep_id: str,
    controller: SweepController,
    trainer: Trainer,
    seed: int,
    retries: int,
    futures: dict[str, PrefectFuture[Trial]],
) -> None:
    """Keep every slot busy until the controller says the sweep is done.

    ``futures`` holds the submitted training tasks by trial id, for the caller to cancel.
    """
    logger = get_run_logger()
    progress_id = create_progress_artifact(progress=0.0, key=f"sweep-progress-{_slug(sweep_id)}")
    n_ended = 0
    while True:
        n_new = controller.n_new_wanted()
        taken: list[Trial] = []
        if n_new:
            new = suggest_trials(controller, n_new, seed)
            claimed, taken = claim_trials(store, sweep_id, new)
            for trial in claimed:
                controller.enqueue(trial)
            for trial in taken:  # someone else's trial under that id: its point is covered
                controller.record(trial)
        for trial in controller.start_next():
            run = train_trial.with_options(
                task_run_name=f"trial-{trial.trial_id}", retries=retries, retry_delay_seconds=1
            )
            futures[trial.trial_id] = run.submit(
                store, sweep_id, controller.config, trial, trainer, retries
            )
        if not futures:
            if taken:  # every id was someone else's: suggest again from the fuller history
                continue
            break

        first = next(as_completed(list(futures.values())))
        # Every trial that has ended by now is recorded before the next suggestion: with fast
        # trainers several end together, and suggesting after each one would hand bayes a
        # history that still counts the others as running.
        ready = [first, *(f for f in futures.values() if f is not first and _has_ended(f))]
        for done in ready:
            trial_id = next(k for k, f in futures.items() if f is done)
            ended = _trial_result(store, sweep_id, trial_id, done, controller.parallel)
            controller.record(ended)
            # Only a recorded trial leaves ``futures``: an interrupt before this line finds it
            # there and records its result again, instead of taking it for a trial that never
            # started and overwriting its record as cancelled.
            del futures[trial_id]
            n_ended += 1

            progress = controller.progress()
            _log_progress(logger, controller, ended)
            if progress.total:
                update_progress_artifact(
                    progress_id, min(100.0, 100.0 * progress.n_done / progress.total)
                )
            if n_ended % RESULTS_EVERY == 0:
                publish_results(store, sweep_id, controller)

    reason = controller.stop_reason()
    if reason and not controller.gave_up:  # giving up is reported once, as the sweep's error
        logger.info("no more trials: %s", reason)


def _cancel_running(
    store: ResultStore,
    sweep_id: str,
    controller: SweepController,
    trainer: Trainer,
    futures: dict[str, PrefectFuture[Trial]],
) -> None:
    """The user interrupted the sweep: end every running trial as ``cancelled``, record it.

    Command trainers are terminated and Python trainers asked to return; each training task
    then writes its trial (``cancelled``, re-run by a resume) before this returns, so nothing
    recorded is lost. The state record ends ``cancelled`` with the counts and the best trial
    recorded so far, as a completed sweep's does.

    Further Ctrl-Cs are ignored meanwhile. ``timeout -s INT`` and some terminals deliver
    SIGINT twice, and a second interrupt that cut this short left the state record
    ``running`` with no counts, or counting cancelled trials as running. Ignoring it costs
    little: every trainer ends within ``KILL_GRACE_S`` of the cancel (a Python one is
    abandoned then, a command killed), so the wait is bounded.
    """
    logger = get_run_logger()
    with _interrupts_ignored():
        try:
            n = cancel_running("the sweep was cancelled by the user", sweep_id)
            logger.warning(
                "interrupted: cancelling %d submitted trial(s), %d of them training",
                len(futures),
                n,
            )
            _record_cancelled(store, sweep_id, controller, futures)
        finally:
            # Whatever cut the recording short, the state counts what the store holds.
            _catch_up_with_store(store, sweep_id, controller)
            _write_state(store, sweep_id, "cancelled", _summary(store, sweep_id, controller))
    resume = resume_command(store.url, sweep_id, controller.parallel)
    if callable(trainer.function) and _import_name(trainer.function) is None:
        # A trainer defined in the script itself has no name another process could import.
        resume += f" (from Python: sweep(sweep_id={sweep_id!r}, function=<the same trainer>))"
    logger.warning("sweep %s interrupted; resume it with: %s", sweep_id, resume)


def _record_cancelled(
    store: ResultStore,
    sweep_id: str,
    controller: SweepController,
    futures: dict[str, PrefectFuture[Trial]],
) -> None:
    """Wait for the submitted trials and record them; mark the ones never started cancelled."""
    logger = get_run_logger()
    for trial_id, future in list(futures.items()):
        try:
            controller.record(future.result())
        except Exception as exc:  # the trial stays running in the store; a resume re-runs it
            logger.warning("trial %s could not be recorded as cancelled: %s", trial_id, exc)
    # Trials claimed in the store whose training never started (still queued, or their task
    # was cancelled before it ran) would show as running, with no attempt, until a resume.
    for trial_id in [*controller.drop_queued(), *controller.running]:
        trial = controller.trials[trial_id]
        if trial.state == TrialState.RUNNING and not trial.attempts:
            ended = trial.evolve(
                state=TrialState.CANCELLED, error="the sweep was cancelled before it started"
            )
            store.write_trial(sweep_id, ended)
            controller.record(ended)
    publish_results(store, sweep_id, controller)


@contextlib.contextmanager
def _interrupts_ignored() -> Iterator[None]:
    """SIGINT ignored inside the block (when this is the main thread; elsewhere a no-op)."""
    try:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread: signals cannot reach this code anyway
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _catch_up_with_store(store: ResultStore, sweep_id: str, controller: SweepController) -> None:
    """Record the trials a training task ended in the store but the loop never heard of.

    A trial whose result could not be taken (its wait raised) may still have been written by
    its task; without this the state record would count it as running. A store that fails
    here leaves the counts as they were: the trials are safe.
    """
    try:
        for trial_id in list(controller.running):
            stored = store.load_trial(sweep_id, trial_id)
            if stored.state != TrialState.RUNNING:
                controller.record(stored)
    except Exception as exc:
        get_run_logger().warning("could not re-read the running trials' records: %s", exc)


def resume_command(store_url: str, sweep_id: str, parallel: int, program: str = "sweep") -> str:
    """The command line that resumes a sweep, for the flow's log and the CLI alike.

    It names the store and keeps the number of slots (they may stand for GPUs).
    """
    command = [program, "run", "--sweep-id", sweep_id, "--store", store_url]
    return shlex.join([*command, "--parallel", str(parallel)])


def _has_ended(future: PrefectFuture[Trial]) -> bool:
    """Whether a training task has ended, asked without waiting or calling the API.

    Futures of Prefect's thread and process pools wrap a ``concurrent.futures.Future``; for a
    runner whose futures do not, the answer is ``False`` and the loop takes one at a time.
    """
    wrapped = getattr(future, "wrapped_future", None)
    done = getattr(wrapped, "done", None)
    return bool(callable(done) and done())


def _trial_result(
    store: ResultStore, sweep_id: str, trial_id: str, done: PrefectFuture[Trial], parallel: int
) -> Trial:
    """The ended trial ``trial_id`` of the training task ``done``.

    A training task fails only when its trial could not be recorded (the store is down past
    every retry). The sweep then stops with a clear error; the trial is still ``running`` in
    the store and a resume runs it again.
    """
    try:
        return done.result()
    except Exception as exc:
        resume = resume_command(store.url, sweep_id, parallel)
        raise SweepFailedError(
            f"trial {trial_id} could not be recorded ({type(exc).__name__}: {exc}); "
            f"the sweep stops here. Resume it with: {resume}"
        ) from exc


def _log_progress(logger: Any, controller: SweepController, ended: Trial) -> None:
    progress = controller.progress()
    total = progress.total if progress.total is not None else "?"
    # The total grows with trials that spend no budget; say why, or it looks like a moving cap.
    free = f", {progress.n_free} ended before logging: not in run_cap" if progress.n_free else ""
    best = (
        f"best {progress.best_trial_id} = {progress.best_value:.6g}"
        if progress.best_value is not None
        else "no best yet (no trial has completed with a metric value)"
    )
    logger.info(
        "[%s/%s done, %d running%s] %s %s; %s",
        progress.n_done,
        total,
        progress.n_running,
        free,
        ended.trial_id,
        ended.state,
        best,
    )


# -- opening a sweep ----------------------------------------------------------------------


def _open_sweep(
    store: ResultStore,
    config: str | dict[str, Any] | None,
    sweep_id: str | None,
    seed: int | None,
    trainer: Trainer,
    work_dir: str | None,
) -> _OpenedSweep:
    """Load or create the sweep, and check its trainer before any trial starts.

    ``trainer`` is what the caller gave, and ``work_dir`` the folder it named, if any. A resumed
    sweep fills what was left out (function, work folder) from its state record. A new sweep is
    written to the store only once its trainer has been checked, so a sweep that could never
    run leaves nothing behind.
    """
    logger = get_run_logger()
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        # numpy's seeding refuses it deep inside the first suggestion, after the sweep exists.
        raise SweepFailedError(f"seed must be a whole number, 0 or more; got {seed!r}")
    given = _load_logging_warnings(config) if config is not None else None

    if sweep_id and store.sweep_exists(sweep_id):
        stored = _load_logging_warnings(store.read_config(sweep_id))
        if given is not None:
            require_same_search_space(stored, given, sweep_id)
            stored = _adopt_changed_settings(store, sweep_id, stored, given)
        state = store.read_state(sweep_id)
        trainer = Trainer(
            function=trainer.function if trainer.function is not None else state.get("function"),
            work_dir=work_dir or state.get("work_dir") or ".",
            timeout_s=trainer.timeout_s,
        )
        check_trainer(stored, trainer)
        logger.info("resuming sweep %s from %s", sweep_id, store.url)
        stored_seed = int(state.get("seed", seed or 0))
        if seed is not None and seed != stored_seed:
            logger.warning(
                "sweep %s keeps the seed it was created with (%d); the seed %d given is not used",
                sweep_id,
                stored_seed,
                seed,
            )
        return _OpenedSweep(stored, sweep_id, stored_seed, trainer)

    if given is None:
        raise SweepNotFoundError(
            f"{store.url}: no sweep with id {sweep_id!r} to resume (and no config was given "
            "to create it)"
        )
    check_trainer(given, trainer)
    sweep_id = sweep_id or new_sweep_id()
    seed = secrets.randbelow(2**31) if seed is None else seed
    function = trainer.function
    state = {
        "status": "running",
        "seed": seed,
        "created_at": time.time(),
        "function": function if isinstance(function, str) else _import_name(function),
        "work_dir": str(Path(trainer.work_dir).resolve()),
    }
    if not store.create_sweep(sweep_id, dict(given.raw), state):
        raise SweepFailedError(f"sweep id {sweep_id!r} was just created by someone else")
    logger.info("created sweep %s in %s (method %s)", sweep_id, store.url, given.method)
    return _OpenedSweep(given, sweep_id, seed, trainer)


def _import_name(function: Callable[..., Any] | None) -> str | None:
    """``module:name`` of a trainer passed as a function, for a resume to import it by.

    ``None`` for one defined in the script being run (``__main__``) or inside a function: no
    other process can import it, so a resume must be given it again.
    """
    module, name = getattr(function, "__module__", None), getattr(function, "__qualname__", "")
    if not module or module == "__main__" or "<" in name:
        return None
    return f"{module}:{name}"


def _adopt_changed_settings(
    store: ResultStore, sweep_id: str, stored: SweepConfig, given: SweepConfig
) -> SweepConfig:
    """The config to resume with: the given one, stored for later resumes, if it differs.

    Only settings outside the search space can differ here (``run_cap``, ``metric.target``,
    ``early_terminate``, the command, the name): raising ``run_cap`` is how a finished sweep
    is continued, and a resume that kept the stored value would silently stop at the old cap.
    """
    changed = sorted(
        key
        for key in set(given.raw) | set(stored.raw)
        if given.raw.get(key) != stored.raw.get(key)
    )
    if not changed:
        return stored
    shown = ", ".join(f"{k} {stored.raw.get(k)!r} -> {given.raw.get(k)!r}" for k in changed)
    get_run_logger().info("resuming with the given config's settings: %s", shown)
    store.replace_config(sweep_id, given.raw)
    return given


@dataclasses.dataclass(frozen=True)
class _OpenedSweep:
    """A sweep ready to run: its config, id, seed and checked trainer."""

    config: SweepConfig
    sweep_id: str
    seed: int
    trainer: Trainer


def _load_logging_warnings(source: str | dict[str, Any]) -> SweepConfig:
    """Load a config, sending its warnings (deprecated keys, suspicious bounds) to the log."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cfg = load_config(source)
    for warning in caught:
        get_run_logger().warning("config: %s", warning.message)
    return cfg


def new_sweep_id() -> str:
    """A fresh sweep id: UTC time of creation and a random suffix."""
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")


def _summary(store: ResultStore, sweep_id: str, controller: SweepController) -> dict[str, Any]:
    """What the flow returns and the state record keeps: ids, counts, the best trial."""
    return {"sweep_id": sweep_id, "store": store.url, **controller.summary()}


def _write_state(store: ResultStore, sweep_id: str, status: str, summary: dict[str, Any]) -> None:
    state = store.read_state(sweep_id)
    store.write_state(sweep_id, {**state, "status": status, **summary})


# -- the lease ----------------------------------------------------------------------------


def _acquire_lease(store: ResultStore, sweep_id: str) -> Lease:
    """Take the sweep's lease.

    A dead controller on this host (e.g. SIGKILLed) is taken over at once; a lease held from
    another host is waited for (saying so) until it expires, at most ``LEASE_TTL_S`` plus a
    margin; a live controller is refused with a clear message.
    """
    logger = get_run_logger()
    return store.acquire_lease(
        sweep_id, ttl_s=LEASE_TTL_S, max_wait_s=LEASE_TTL_S + 5, on_wait=logger.warning
    )


class _Heartbeat:
    """Renews the lease every third of its lifetime in a background thread."""

    def __init__(self, store: ResultStore, sweep_id: str, lease: Lease) -> None:
        self._stop = threading.Event()
        self._logger = get_run_logger()  # bound here: the thread has no run context
        self._thread = threading.Thread(
            target=self._beat, args=(store, sweep_id, lease), daemon=True
        )
        self._thread.start()

    def _beat(self, store: ResultStore, sweep_id: str, lease: Lease) -> None:
        while not self._stop.wait(LEASE_TTL_S / 3):
            try:
                lease = store.renew_lease(sweep_id, lease, ttl_s=LEASE_TTL_S)
            except LeaseHeldError as exc:  # taken over: beating on would fight the new holder
                self._logger.error("%s", exc)
                return
            except Exception as exc:  # a missed beat is retried at the next one
                self._logger.warning("lease heartbeat failed: %s", exc)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
