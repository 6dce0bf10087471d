"""Turn a W&B ``program`` + ``command`` template into an argv list, and read reported metrics.

The W&B agent launches a trial as a plain argv list (never through a shell) built from the
sweep's ``command`` template, default ``[${env}, ${interpreter}, ${program}, ${args}]``. Building
happens in two passes, as in the reference agent (WANDB-COMPAT.md section 11):

1. ``${envvar:NAME}`` is replaced anywhere inside an element, several times per element if need
   be. ``NAME`` matches ``[A-Z0-9_]*``; an unset variable is replaced by its own name, and a
   lowercase name is not a macro at all.
2. Each element is turned into a string. An element that as a whole reads ``${...}`` is a macro
   and becomes zero or more elements; an unknown one disappears. A macro embedded in other text
   (``--bs=${batch_size}``) is passed on literally.

Parameter values are written with Python ``str()`` (``True``, ``None``, ``1e-05``, dict and
list reprs), one argv element per argument, so a value holding spaces is never split or quoted.
Parameters are sorted by name (codepoint order), which is what W&B's hosted service delivers.

Besides argv, a launch carries the environment variables to add for the child and the files to
write first: the run's parameter file ``config-<run_id>.yaml`` (always) and, for
``${args_json_file}``, ``config-<run_id>.json``, both under ``<work_dir>/wandb/sweep-<sweep_id>/``.

A command program reports metrics by printing one JSON object per line on stdout;
:func:`parse_metrics_line` recognises those lines.
"""

from __future__ import annotations

import json
import ntpath
import os
import posixpath
import re
import sys
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "DEFAULT_COMMAND",
    "CommandLaunch",
    "build_launch",
    "parse_metrics_line",
    "write_launch_files",
]

DEFAULT_COMMAND: tuple[str, ...] = ("${env}", "${interpreter}", "${program}", "${args}")
"""The command W&B runs when a sweep config has no ``command`` key."""

_ENVVAR_MACRO = re.compile(r"\$\{envvar:([A-Z0-9_]*)\}")
_OS_NAMES = ("posix", "linux", "darwin", "windows")
_CURRENT_OS = "windows" if sys.platform == "win32" else "posix"

# W&B's agent also fills ``${args_dict}`` (its loop then splices in the parameter *names*, an
# accident of extending a list with a dict). It is undocumented, so it is unknown here and
# dropped like any other unknown macro.
_PARAM_MACROS = (
    "args",
    "args_no_hyphens",
    "args_no_equals",
    "args_no_boolean_flags",
    "args_append_hydra",
    "args_override_hydra",
    "args_json",
)
_KNOWN_MACROS = ("env", "interpreter", "program", *_PARAM_MACROS, "args_json_file")


@dataclass(frozen=True)
class CommandLaunch:
    """Everything needed to start one trial of a command sweep.

    Attributes:
        argv: The program and its arguments, handed to the OS as a list (no shell).
        env: Variables to add to the child's environment (on top of the inherited one):
            ``WANDB_SWEEP_ID``, ``WANDB_RUN_ID`` and ``WANDB_SWEEP_PARAM_PATH`` as W&B sets
            them, and ``SWEEP_ID``, ``SWEEP_TRIAL_ID`` and ``SWEEP_PARAMS_PATH`` with the same
            values for programs that do not use wandb.
        files: Path to exact text of each file to write before launching
            (:func:`write_launch_files`).
    """

    argv: list[str]
    env: dict[str, str]
    files: dict[str, str]


def build_launch(
    params: Mapping[str, Any],
    *,
    program: str | None,
    command: Sequence[Any] | None,
    sweep_id: str,
    run_id: str,
    work_dir: str,
    environ: Mapping[str, str] | None = None,
    os_name: str = _CURRENT_OS,
) -> CommandLaunch:
    """Expand a sweep's command template for one trial.

    Args:
        params: The trial's parameter values by name; a nested parameter is a plain dict.
        program: The sweep's ``program`` (script path); needed only if the command uses
            ``${program}``, as the default command does.
        command: The sweep's ``command`` list. ``None`` or an empty list means
            :data:`DEFAULT_COMMAND` (W&B treats an empty list the same way). Non-string elements
            are stringified.
        sweep_id: The sweep's id; names the folder of the launch files.
        run_id: The trial's id; names the launch files.
        work_dir: The folder playing W&B's ``WANDB_DIR``; files go under
            ``<work_dir>/wandb/sweep-<sweep_id>/``. Pass an absolute path if the child may run
            in another working directory.
        environ: Variables ``${envvar:NAME}`` reads; defaults to ``os.environ``.
        os_name: ``"windows"`` makes ``${env}`` expand to nothing and joins paths with ``\\``;
            ``"posix"``, ``"linux"`` or ``"darwin"`` give ``/usr/bin/env``. Defaults to the
            current platform.

    Returns:
        The argv, the environment additions and the files to write.

    Raises:
        ValueError: If the command uses ``${program}`` but ``program`` is missing, if
            ``command`` is a string rather than a list, if ``os_name`` is unknown, or if an id
            would escape the launch folder.

    Note:
        ``${interpreter}`` is the literal ``python`` (as in W&B), found on the child's
        ``PATH``; where only ``python3`` exists, write the interpreter into ``command``.
        Values are normalised as if they had crossed JSON (tuples become lists, numpy scalars
        become Python numbers), since that is all a W&B agent ever receives.

    Example:
        >>> launch = build_launch(
        ...     {"lr": 0.01, "bs": 32}, program="train.py", command=None,
        ...     sweep_id="sw1", run_id="r1", work_dir="/exp", os_name="linux")
        >>> launch.argv
        ['/usr/bin/env', 'python', 'train.py', '--bs=32', '--lr=0.01']
    """
    if isinstance(command, str | bytes):
        raise ValueError(
            f"command: must be a list of argv elements, got the string {command!r}; "
            "write it as a YAML list, e.g. [${env}, ${interpreter}, ${program}, ${args}]."
        )
    if os_name not in _OS_NAMES:
        raise ValueError(
            f"os_name: {os_name!r} is not known; choose one of {', '.join(_OS_NAMES)}."
        )
    for key, value in (("sweep_id", sweep_id), ("run_id", run_id)):
        _check_path_component(key, value)

    is_windows = os_name == "windows"
    join = ntpath.join if is_windows else posixpath.join
    sweep_dir = join(work_dir, "wandb", f"sweep-{sweep_id}")
    yaml_path = join(sweep_dir, f"config-{run_id}.yaml")
    json_path = join(sweep_dir, f"config-{run_id}.json")
    ordered = {str(name): _plain(params[name]) for name in sorted(params, key=str)}
    env_source = os.environ if environ is None else environ
    template = [str(c) for c in (command or DEFAULT_COMMAND)]

    expansions = _param_macros(ordered)
    expansions["env"] = [] if is_windows else ["/usr/bin/env"]
    expansions["interpreter"] = ["python"]
    expansions["args_json_file"] = [json_path]
    argv, used = _expand(template, env_source, expansions, program)

    files = {yaml_path: _param_file_text(ordered)}
    if "args_json_file" in used:
        files[json_path] = expansions["args_json"][0]
    env = {
        "WANDB_SWEEP_ID": sweep_id,
        "WANDB_RUN_ID": run_id,
        "WANDB_SWEEP_PARAM_PATH": yaml_path,
        "SWEEP_ID": sweep_id,
        "SWEEP_TRIAL_ID": run_id,
        "SWEEP_PARAMS_PATH": yaml_path,
    }
    return CommandLaunch(argv=argv, env=env, files=files)


def write_launch_files(launch: CommandLaunch) -> None:
    """Write ``launch.files``, creating their folders; existing files are overwritten.

    Args:
        launch: A launch from :func:`build_launch`.
    """
    for path, text in launch.files.items():
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


def parse_metrics_line(line: str) -> dict[str, Any] | None:
    """Read one line of a command program's stdout as a metrics report.

    A program reports metrics by printing one JSON object per line, e.g.
    ``{"_step": 3, "loss": 0.25}``; a ``_step`` key, if present, is the step of that report.

    Args:
        line: One line of output, with or without its newline.

    Returns:
        The object as a dict, or ``None`` for any other line: ordinary output, a JSON array or
        scalar, or malformed JSON. The tokens ``NaN``, ``Infinity`` and ``-Infinity`` that
        Python's ``json.dumps`` writes for non-finite floats are accepted, so a diverging loss
        is reported as a real NaN or infinity rather than lost.
    """
    text = line.strip()
    # Cheap pre-check: most output lines are not JSON objects at all.
    if not (text.startswith("{") and text.endswith("}")):
        return None
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _expand(
    template: list[str],
    environ: Mapping[str, str],
    expansions: dict[str, list[str]],
    program: str | None,
) -> tuple[list[str], set[str]]:
    """Run both expansion passes; return argv and the names of the macros that expanded."""
    argv: list[str] = []
    used: set[str] = set()
    for raw in template:
        element = _ENVVAR_MACRO.sub(lambda m: environ.get(m.group(1), m.group(1)), raw)
        if not (element.startswith("${") and element.endswith("}")):
            if "${" in element:
                warnings.warn(
                    f"command: {element!r} embeds a macro in other text; only a whole element "
                    "is expanded, so it reaches the program literally. Use ${args} or "
                    "${args_json} to pass parameters.",
                    UserWarning,
                    stacklevel=3,
                )
            argv.append(element)
            continue

        name = element[2:-1]
        if name == "program":
            argv.append(_require_program(program))
        elif name in expansions:
            argv.extend(expansions[name])
        else:
            warnings.warn(
                f"command: {element!r} is not a known macro, so it is left out of argv "
                f"(as W&B does). Known macros: {', '.join('${' + m + '}' for m in _KNOWN_MACROS)}"
                ", and ${envvar:NAME} with NAME in [A-Z0-9_].",
                UserWarning,
                stacklevel=3,
            )
            continue
        used.add(name)
    return argv, used


def _param_macros(params: dict[str, Any]) -> dict[str, list[str]]:
    """The expansions of every parameter macro, from name-sorted ``params``."""
    forms: dict[str, list[str]] = {name: [] for name in _PARAM_MACROS}
    for name, value in params.items():
        pair = f"{name}={value}"
        forms["args"].append(f"--{pair}")
        forms["args_no_hyphens"].append(pair)
        forms["args_no_equals"] += [f"--{name}", str(value)]
        forms["args_append_hydra"].append(f"+{pair}")
        forms["args_override_hydra"].append(f"++{pair}")
        # Only real booleans become bare flags: 0, None and "" keep their --name=value form.
        if value is True:
            forms["args_no_boolean_flags"].append(f"--{name}")
        elif value is not False:
            forms["args_no_boolean_flags"].append(f"--{pair}")
    # Python's json.dumps defaults, as W&B: ", " and ": " separators, NaN for non-finite.
    forms["args_json"] = [json.dumps(params)]
    return forms


def _param_file_text(params: dict[str, Any]) -> str:
    """The ``config-<run_id>.yaml`` text ``wandb.init`` reads: a version line, then the run
    config ``{name: {value: v}}``."""
    text = "wandb_version: 1"
    # W&B leaves the body out when there are no parameters (an empty mapping would dump as "{}").
    if params:
        body = {name: {"value": value} for name, value in params.items()}
        text += "\n\n" + yaml.safe_dump(
            body, default_flow_style=False, allow_unicode=True, sort_keys=False
        )
    return text


def _plain(value: Any) -> Any:
    """``value`` as it would look after a JSON round trip, keeping non-finite floats."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if not isinstance(value, str | bytes) and callable(getattr(value, "tolist", None)):
        return _plain(value.tolist())  # numpy scalar or array
    return value


def _require_program(program: str | None) -> str:
    if not program:
        raise ValueError(
            "program: the command uses ${program} but the sweep config has no `program` key; "
            "add `program: train.py` (the script to run) or remove ${program} from `command`."
        )
    return program


def _check_path_component(key: str, value: str) -> None:
    """Refuse an id that would put the launch files outside their sweep folder."""
    if not value or value in (".", "..") or any(sep in value for sep in "/\\"):
        raise ValueError(
            f"{key}: {value!r} cannot name a file; use a non-empty id without '/' or '\\'."
        )
