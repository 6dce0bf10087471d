"""The ``sweep`` command: run, validate, show and export sweeps.

::

    sweep run [CONFIG] [--store DIR|s3://...] [--parallel N] [--sweep-id ID]
              [--function MODULE:CALLABLE] [--seed N] [--trial-timeout S] [--retry-failed]
    sweep validate CONFIG
    sweep show ID [--store DIR|s3://...]
    sweep export ID [--store URL] [--format csv|parquet|json] [--out FILE]

Errors the user can fix (a bad config, an unreachable store, a trainer that cannot be imported)
print one clear message and exit with status 2 (usage) or 1 (the sweep failed), never a
traceback.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["main"]

#: What `sweep export` writes; an --out file name ending in one of them picks it.
EXPORT_FORMATS = ("csv", "parquet", "json")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sweep`` command; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        print(_after_interrupt(args), file=sys.stderr)
        return 130
    except BrokenPipeError:  # `sweep show ID | head`: the reader has seen enough
        sys.stderr.close()
        return 0


def _after_interrupt(args: argparse.Namespace) -> str:
    """What to do next: the resume command, or rerun if no sweep was stored yet."""
    if args.command != "run":
        return "interrupted"
    sweep_id = getattr(args, "sweep_id", None)
    if sweep_id is None or not _sweep_stored(args.store, sweep_id):
        return (
            "interrupted before the sweep was stored, so there is nothing to resume; "
            "run the same command again"
        )
    from flows.sweep import resume_command  # imported by now: the flow stored the sweep
    from sweepcore.store import default_store_url

    # The program as it was called (``.venv/bin/sweep`` when the venv is not on PATH).
    program = sys.argv[0] if Path(sys.argv[0]).name == "sweep" else "sweep"
    store = args.store or default_store_url()
    command = resume_command(store, sweep_id, args.parallel, program)
    return f"interrupted; resume with: {command}"


def _sweep_stored(store_url: str | None, sweep_id: str) -> bool:
    """Whether the store holds ``sweep_id``; ``True`` when that cannot be told."""
    try:
        from sweepcore.store import open_store

        return bool(open_store(store_url).sweep_exists(sweep_id))
    except Exception:  # an unreachable store: the resume line is still the best advice
        return True


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sweep", description="W&B-style hyperparameter sweeps run as Prefect flows."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run a sweep, or resume one with --sweep-id")
    run.add_argument("config", nargs="?", help="sweep YAML (optional when resuming)")
    run.add_argument("--store", help="results folder or s3://bucket/prefix (default ./sweeps)")
    run.add_argument(
        "--parallel", type=_positive(int), default=4, help="trials at once (default 4)"
    )
    run.add_argument("--sweep-id", help="resume this sweep, or create it with this id")
    run.add_argument(
        "--function", help="Python trainer MODULE:CALLABLE, called train(config, run)"
    )
    run.add_argument(
        "--seed",
        type=_positive(int, zero_ok=True),
        help="seed of the search, 0 or more (default: random, stored)",
    )
    run.add_argument("--trial-timeout", type=_positive(float), help="seconds one trial may run")
    run.add_argument("--retry-failed", action="store_true", help="re-run failed trials")
    run.add_argument(
        "--trial-retries",
        type=_positive(int, zero_ok=True),
        default=0,
        help="run a failed trial again N times at once",
    )
    run.add_argument(
        "--work-dir",
        help="folder command trainers run in (default: the current one; on resume, the "
        "sweep's own)",
    )
    run.set_defaults(handler=_cmd_run)

    validate = sub.add_parser("validate", help="check a sweep config and list every problem")
    validate.add_argument("config")
    validate.set_defaults(handler=_cmd_validate)

    show = sub.add_parser("show", help="print a sweep's leaderboard, best first")
    show.add_argument("sweep_id")
    show.add_argument("--store", help="results folder or s3://bucket/prefix")
    show.set_defaults(handler=_cmd_show)

    export = sub.add_parser("export", help="write a sweep's leaderboard as csv, parquet or json")
    export.add_argument("sweep_id")
    export.add_argument("--store", help="results folder or s3://bucket/prefix")
    export.add_argument(
        "--format",
        choices=EXPORT_FORMATS,
        help="csv, parquet or json (default: from --out's extension, else csv)",
    )
    export.add_argument("--out", help="file to write (default: standard output)")
    export.set_defaults(handler=_cmd_export)
    return parser


def _positive(kind: type[float], zero_ok: bool = False) -> Callable[[str], float]:
    """An argparse type: a number of ``kind`` above zero (or at least zero)."""

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            what = "whole number" if kind is int else "number"
            raise argparse.ArgumentTypeError(f"{text!r} is not a {what}") from None
        if not math.isfinite(value):  # float("nan") parses, and compares false with anything
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
        if value < 0 or (value == 0 and not zero_ok):
            bound = "0 or more" if zero_ok else "above 0"
            raise argparse.ArgumentTypeError(f"must be {bound}; got {text}")
        return value

    return parse


def _cmd_validate(args: argparse.Namespace) -> int:
    from sweepcore.config import SweepConfigError

    try:
        cfg = _load_printing_warnings(args.config)
    except SweepConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    n_search = sum(p.varies for p in cfg.parameters)
    print(f"{args.config}: valid {cfg.method} sweep, {n_search} searched parameter(s)")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from sweepcore.config import SweepConfigError
    from sweepcore.execute import TrainerError
    from sweepcore.store import StoreError, SweepNotFoundError

    if args.config is None and args.sweep_id is None:
        print("sweep run: give a CONFIG file, or --sweep-id ID to resume", file=sys.stderr)
        return 2
    try:
        # Fail fast on what can be checked before Prefect starts (10-30 s on a small machine).
        from sweepcore.execute import Trainer, check_trainer, resolve_function
        from sweepcore.store import open_store

        cfg = _load_printing_warnings(args.config) if args.config is not None else None
        if args.function is not None:
            resolve_function(args.function)
        store = open_store(args.store)
        store.blobs.check()
        resuming = args.sweep_id is not None and store.sweep_exists(args.sweep_id)
        if cfg is None and not resuming:
            raise SweepNotFoundError(
                f"{store.url}: no sweep with id {args.sweep_id!r} to resume"
                f"{store.closest_hint(args.sweep_id)} (and no CONFIG was given to create it)"
            )
        if cfg is not None and not resuming:
            check_trainer(cfg, Trainer(function=args.function, work_dir=args.work_dir or "."))
            if args.sweep_id is not None:
                print(_creating_notice(store, args.sweep_id), file=sys.stderr)
        if resuming:
            _refuse_live_controller(store, args.sweep_id)
            if cfg is not None:  # refused here too, before Prefect's start-up
                _refuse_changed_space(store, args.sweep_id, cfg, args.config)
    except (SweepConfigError, TrainerError, ValueError) as exc:  # ValueError: bad store URL
        print(f"sweep run: {exc}", file=sys.stderr)
        return 2
    except StoreError as exc:
        print(f"sweep run: {exc}", file=sys.stderr)
        return 1

    from flows import apply_prefect_defaults

    apply_prefect_defaults()  # before Prefect is imported, so that it reads them too
    from flows.sweep import SweepFailedError, new_sweep_id, sweep

    # Named here, not in the flow, so that an interrupted run can say how to resume it.
    args.sweep_id = args.sweep_id or new_sweep_id()
    try:
        summary = sweep(
            config=args.config,
            function=args.function,
            store=args.store,
            sweep_id=args.sweep_id,
            parallel=args.parallel,
            seed=args.seed,
            trial_timeout=args.trial_timeout,
            retry_failed=args.retry_failed,
            work_dir=args.work_dir,
            trial_retries=args.trial_retries,
        )
    except (SweepConfigError, TrainerError) as exc:
        print(f"sweep run: {exc}", file=sys.stderr)
        return 2
    except (StoreError, SweepFailedError) as exc:
        print(f"sweep run: {exc}", file=sys.stderr)
        return 1

    print()
    _print_leaderboard(summary["sweep_id"], summary["store"])
    return 0


def _creating_notice(store: Any, sweep_id: str) -> str:
    """What ``--sweep-id`` does when the store has no such sweep, with the nearest stored id.

    A mistyped id would otherwise start a new sweep with nothing said but an INFO line.
    """
    notice = f"sweep run: {store.url} has no sweep {sweep_id!r}; creating it under that id"
    closest = store.closest_sweep(sweep_id)
    if closest:
        notice += f" (to resume {closest!r} instead, give --sweep-id {closest})"
    return notice


def _refuse_live_controller(store: Any, sweep_id: str) -> None:
    """Refuse at once, before Prefect starts, when a live process on this host runs the sweep.

    A lease held from another host is left to the flow, which waits for it to expire.
    """
    from sweepcore.store import LeaseHeldError

    lease = store.read_lease(sweep_id)
    if lease is not None and lease.is_local_and_alive() and lease.expires_at > time.time():
        raise LeaseHeldError(
            f"sweep {sweep_id!r} in {store.url} is being run by another controller "
            f"(pid {lease.pid} on {lease.host})"
        )


def _refuse_changed_space(store: Any, sweep_id: str, given: Any, path: str) -> None:
    from sweepcore.config import SweepConfigError, load_config, require_same_search_space

    with warnings.catch_warnings():  # the stored config's warnings were shown when it was made
        warnings.simplefilter("ignore")
        stored = load_config(store.read_config(sweep_id))
    try:
        require_same_search_space(stored, given, sweep_id)
    except SweepConfigError as exc:  # name the file, as the other config errors do
        raise SweepConfigError(exc.problems, source=path) from None


def _check_remote(store: Any) -> None:
    """Check a remote store first, so an unreachable one fails in seconds, not after retries.

    A local folder needs no check (and the check would create it).
    """
    from sweepcore.store import LocalBlobStore

    if not isinstance(store.blobs, LocalBlobStore):
        store.blobs.check()


def _cmd_show(args: argparse.Namespace) -> int:
    from sweepcore.store import StoreError, open_store

    try:
        _check_remote(open_store(args.store))
        _print_leaderboard(args.sweep_id, args.store)
    except StoreError as exc:
        print(f"sweep show: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:  # a malformed store URL or S3 setting
        print(f"sweep show: {exc}", file=sys.stderr)
        return 2
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from sweepcore.leaderboard import to_csv_bytes, to_json_bytes, to_parquet_bytes
    from sweepcore.results import load_results
    from sweepcore.store import StoreError, open_store

    args.format = args.format or _format_of(args.out)
    if args.format == "parquet" and not args.out and sys.stdout.isatty():
        print(
            "sweep export: Parquet is binary; give --out FILE, or redirect the output",
            file=sys.stderr,
        )
        return 2
    try:
        _check_remote(open_store(args.store))
        frame = load_results(args.store, args.sweep_id)
    except StoreError as exc:
        print(f"sweep export: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:  # a malformed store URL or S3 setting
        print(f"sweep export: {exc}", file=sys.stderr)
        return 2
    if args.format == "csv":
        data = to_csv_bytes(frame)
    elif args.format == "parquet":
        data = to_parquet_bytes(frame)
    else:
        data = to_json_bytes(frame)
    if args.out:
        try:
            with open(args.out, "wb") as fh:
                fh.write(data)
        except OSError as exc:  # a folder that does not exist, a read-only place
            print(f"sweep export: cannot write {args.out}: {exc.strerror}", file=sys.stderr)
            return 1
        print(f"wrote {len(frame)} trial(s) to {args.out} as {args.format}", file=sys.stderr)
    else:
        sys.stdout.buffer.write(data)
    return 0


def _format_of(out: str | None) -> str:
    """The export format an --out file name asks for (``x.parquet``), csv if it says none."""
    suffix = Path(out).suffix.lower().lstrip(".") if out else ""
    return suffix if suffix in EXPORT_FORMATS else "csv"


def _load_printing_warnings(path: str) -> object:
    """Load a config, printing its warnings (deprecated keys, suspicious bounds) once each."""
    from sweepcore.config import load_config

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cfg = load_config(path)
    for warning in caught:
        print(f"warning: {warning.message}", file=sys.stderr)
    return cfg


def _print_leaderboard(sweep_id: str, store_url: str | None) -> None:
    import pandas as pd

    from sweepcore.results import load_results

    frame = load_results(store_url, sweep_id)
    if frame.empty:  # pandas would print "Empty DataFrame" and the column list
        print(f"sweep {sweep_id}: no trials yet")
        return
    shown = frame.drop(columns=["started_at", "finished_at"], errors="ignore")
    # Per-metric and per-fold detail stays in results.csv and `sweep export`.
    detail = [c for c in shown.columns if c.startswith("summary.") or _is_fold_column(c)]
    shown = shown.drop(columns=detail)
    if "error" in shown and shown["error"].notna().any():  # the first line says why it failed
        cut = shown["error"].str.len() > 60
        shown["error"] = shown["error"].where(~cut, shown["error"].str.slice(0, 57) + "...")
    else:
        shown = shown.drop(columns=["error"], errors="ignore")
    # %g keeps small learning rates readable (3.3e-05, not 0.000033).
    options = (
        "display.max_rows",
        60,
        "display.width",
        200,
        "display.float_format",
        "{:.6g}".format,
    )
    with pd.option_context(*options):
        print(f"sweep {sweep_id}: {len(frame)} trial(s), best first")
        print(shown.head(60).fillna("").to_string(index=False))
        if len(frame) > 60:
            print(f"... {len(frame) - 60} more; see results.csv")


def _is_fold_column(name: str) -> bool:
    """``fold3.fold_accuracy`` and the like (see sweepcore.leaderboard)."""
    head, dot, _ = name.partition(".")
    return bool(dot) and head.startswith("fold") and head[4:].isdigit()


if __name__ == "__main__":
    sys.exit(main())
