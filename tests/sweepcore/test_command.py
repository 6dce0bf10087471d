"""Command macro expansion (WANDB-COMPAT.md section 11) and metric lines of command programs."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from sweepcore.command import (
    DEFAULT_COMMAND,
    CommandLaunch,
    build_launch,
    parse_metrics_line,
    write_launch_files,
)

SWEEP_DIR = "/exp/wandb/sweep-sw1"


def launch_for(
    params: dict[str, Any],
    command: list[Any] | None,
    *,
    program: str | None = "train.py",
    environ: dict[str, str] | None = None,
    os_name: str = "linux",
) -> CommandLaunch:
    return build_launch(
        params,
        program=program,
        command=command,
        sweep_id="sw1",
        run_id="r1",
        work_dir="/exp",
        environ={} if environ is None else environ,
        os_name=os_name,
    )


def argv_for(params: dict[str, Any], *macros: Any, **kwargs: Any) -> list[str]:
    return launch_for(params, list(macros), **kwargs).argv


# --- BR-14: null and falsy values ------------------------------------------------------------


def test_none_value_reaches_program_as_none_token_and_is_never_dropped() -> None:
    params = {"rnn_type": None, "use_bn": True}

    assert argv_for(params, "${args}") == ["--rnn_type=None", "--use_bn=True"]
    assert argv_for(params, "${args_no_boolean_flags}") == ["--rnn_type=None", "--use_bn"]
    assert argv_for(params, "${args_no_equals}") == ["--rnn_type", "None", "--use_bn", "True"]


def test_zero_and_false_stay_distinct_arguments() -> None:
    assert argv_for({"clip": 0}, "${args}") == ["--clip=0"]
    assert argv_for({"clip": False}, "${args}") == ["--clip=False"]
    assert argv_for({"clip": 0}, "${args_no_boolean_flags}") == ["--clip=0"]
    assert argv_for({"clip": False}, "${args_no_boolean_flags}") == []


def test_args_json_keeps_null_false_and_zero_types() -> None:
    (text,) = argv_for({"rnn_type": None, "use_bn": False, "clip": 0}, "${args_json}")

    decoded = json.loads(text)
    assert text == '{"clip": 0, "rnn_type": null, "use_bn": false}'
    assert decoded["rnn_type"] is None
    assert decoded["use_bn"] is False
    assert decoded["clip"] == 0 and type(decoded["clip"]) is int


# --- every macro -----------------------------------------------------------------------------


def test_default_command_is_env_interpreter_program_args() -> None:
    assert launch_for({"lr": 0.1}, None).argv == ["/usr/bin/env", "python", "train.py", "--lr=0.1"]
    assert DEFAULT_COMMAND == ("${env}", "${interpreter}", "${program}", "${args}")


def test_empty_command_list_means_default_command_as_in_wandb() -> None:
    assert launch_for({"lr": 0.1}, []).argv == launch_for({"lr": 0.1}, None).argv


def test_env_macro_is_dropped_on_windows() -> None:
    assert argv_for({}, "${env}", "${interpreter}", os_name="linux") == ["/usr/bin/env", "python"]
    assert argv_for({}, "${env}", "${interpreter}", os_name="windows") == ["python"]


def test_parameter_macros_format_each_argument_as_wandb() -> None:
    """Two parameters, every per-parameter form.

    ==========================  ===================================
    macro                       argv elements
    ==========================  ===================================
    ``${args_no_hyphens}``      ``a=1``, ``b=x``
    ``${args_no_equals}``       ``--a``, ``1``, ``--b``, ``x``
    ``${args_append_hydra}``    ``+a=1``, ``+b=x``
    ``${args_override_hydra}``  ``++a=1``, ``++b=x``
    ==========================  ===================================
    """
    params = {"b": "x", "a": 1}

    assert argv_for(params, "${args_no_hyphens}") == ["a=1", "b=x"]
    assert argv_for(params, "${args_no_equals}") == ["--a", "1", "--b", "x"]
    assert argv_for(params, "${args_append_hydra}") == ["+a=1", "+b=x"]
    assert argv_for(params, "${args_override_hydra}") == ["++a=1", "++b=x"]


def test_hydra_forms_carry_python_str_values() -> None:
    params = {"model": {"depth": 2}, "dropout": None, "amp": True}

    assert argv_for(params, "${args_override_hydra}") == [
        "++amp=True",
        "++dropout=None",
        "++model={'depth': 2}",
    ]


def test_args_json_file_writes_the_args_json_text_and_passes_its_path() -> None:
    params = {"opt": {"lr": 0.1}, "seed": None}

    launch = launch_for(params, ["${program}", "--config", "${args_json_file}"])
    json_path = f"{SWEEP_DIR}/config-r1.json"

    assert launch.argv == ["train.py", "--config", json_path]
    assert launch.files[json_path] == argv_for(params, "${args_json}")[0]
    assert launch.files[json_path] == '{"opt": {"lr": 0.1}, "seed": null}'


def test_json_file_is_written_only_when_its_macro_is_used() -> None:
    launch = launch_for({"a": 1}, None)

    assert list(launch.files) == [f"{SWEEP_DIR}/config-r1.yaml"]


def test_envvar_macro_expands_anywhere_several_times_per_element() -> None:
    environ = {"ROOT": "/data", "SPLIT": "train"}

    argv = argv_for({}, "--data=${envvar:ROOT}/${envvar:SPLIT}/${envvar:ROOT}", environ=environ)

    assert argv == ["--data=/data/train//data"]


def test_unset_envvar_becomes_its_name_and_lowercase_is_not_expanded() -> None:
    environ = {"lower": "never"}

    assert argv_for({}, "--x=${envvar:NOT_SET_1}", environ=environ) == ["--x=NOT_SET_1"]
    with pytest.warns(UserWarning, match="embeds a macro"):
        assert argv_for({}, "--x=${envvar:lower}", environ=environ) == ["--x=${envvar:lower}"]


def test_envvar_expands_before_whole_element_macros() -> None:
    """A variable whose value is a macro becomes that macro; its own value is not re-scanned."""
    environ = {"ARGS": "${args}", "NESTED": "${envvar:ARGS}"}

    assert argv_for({"a": 1}, "${envvar:ARGS}", environ=environ) == ["--a=1"]
    with pytest.warns(UserWarning, match="not a known macro"):
        assert argv_for({"a": 1}, "${envvar:NESTED}", environ=environ) == []


def test_envvar_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWEEPCORE_TEST_DATA", "/mnt/d")

    launch = build_launch(
        {},
        program=None,
        command=["--d=${envvar:SWEEPCORE_TEST_DATA}"],
        sweep_id="s",
        run_id="r",
        work_dir="/w",
    )

    assert launch.argv == ["--d=/mnt/d"]


def test_non_string_elements_are_stringified() -> None:
    assert argv_for({}, "${interpreter}", "--epochs", 10, 1.5, True) == [
        "python",
        "--epochs",
        "10",
        "1.5",
        "True",
    ]


def test_unknown_whole_element_macro_is_dropped_with_a_warning() -> None:
    with pytest.warns(UserWarning, match=r"'\$\{arg\}' is not a known macro"):
        argv = argv_for({"a": 1}, "${program}", "${arg}", "--x")

    assert argv == ["train.py", "--x"]


def test_embedded_macro_is_passed_through_literally() -> None:
    with pytest.warns(UserWarning, match="reaches the program literally"):
        argv = argv_for({"batch_size": 8}, "--bs=${batch_size}", "--all=${args}")

    assert argv == ["--bs=${batch_size}", "--all=${args}"]


# --- value formatting and order --------------------------------------------------------------


def test_args_are_sorted_by_codepoint() -> None:
    params = {"window": 3, "batch": 256, "Lr": 0.1, "_x": 1}

    assert argv_for(params, "${args_no_hyphens}") == ["Lr=0.1", "_x=1", "batch=256", "window=3"]


def test_values_use_python_str_formatting() -> None:
    params = {"a": 1e-05, "b": 0.0001, "c": 1e16, "d": 3.0, "e": [64, 64], "f": "two words"}

    assert argv_for(params, "${args}") == [
        "--a=1e-05",
        "--b=0.0001",
        "--c=1e+16",
        "--d=3.0",
        "--e=[64, 64]",
        "--f=two words",
    ]


def test_numpy_and_tuple_values_look_as_after_json() -> None:
    params = {"lr": np.float64(0.5), "n": np.int64(3), "shape": (1, np.int32(2))}

    assert argv_for(params, "${args}") == ["--lr=0.5", "--n=3", "--shape=[1, 2]"]
    assert argv_for(params, "${args_json}") == ['{"lr": 0.5, "n": 3, "shape": [1, 2]}']


# --- files and environment -------------------------------------------------------------------


def test_param_file_holds_wandb_version_and_value_wrapped_run_config() -> None:
    launch = launch_for({"rnn_type": None, "opt": {"lr": 0.1, "nest": {"b": True}}}, None)

    assert launch.files[f"{SWEEP_DIR}/config-r1.yaml"] == textwrap.dedent(
        """\
        wandb_version: 1

        opt:
          value:
            lr: 0.1
            nest:
              b: true
        rnn_type:
          value: null
        """
    )


def test_param_file_without_parameters_is_only_the_version_line() -> None:
    assert launch_for({}, None, program="t.py").files == {
        f"{SWEEP_DIR}/config-r1.yaml": "wandb_version: 1"
    }


def test_child_env_names_sweep_run_and_param_file() -> None:
    launch = launch_for({"a": 1}, None)
    yaml_path = f"{SWEEP_DIR}/config-r1.yaml"

    assert launch.env == {
        "WANDB_SWEEP_ID": "sw1",
        "WANDB_RUN_ID": "r1",
        "WANDB_SWEEP_PARAM_PATH": yaml_path,
        "SWEEP_ID": "sw1",
        "SWEEP_TRIAL_ID": "r1",
        "SWEEP_PARAMS_PATH": yaml_path,
    }


def test_windows_paths_use_backslashes() -> None:
    launch = build_launch(
        {"a": 1},
        program="t.py",
        command=["${args_json_file}"],
        sweep_id="s",
        run_id="r",
        work_dir="C:\\exp",
        environ={},
        os_name="windows",
    )

    assert launch.argv == ["C:\\exp\\wandb\\sweep-s\\config-r.json"]
    assert launch.env["WANDB_SWEEP_PARAM_PATH"] == "C:\\exp\\wandb\\sweep-s\\config-r.yaml"


def test_write_launch_files_creates_folders_and_writes_exact_text(tmp_path: Path) -> None:
    launch = build_launch(
        {"seed": None, "lr": 0.1},
        program="t.py",
        command=["${args_json_file}"],
        sweep_id="s",
        run_id="r",
        work_dir=str(tmp_path),
        environ={},
    )

    write_launch_files(launch)

    folder = tmp_path / "wandb" / "sweep-s"
    assert (folder / "config-r.json").read_text() == '{"lr": 0.1, "seed": null}'
    assert yaml.safe_load((folder / "config-r.yaml").read_text()) == {
        "wandb_version": 1,
        "lr": {"value": 0.1},
        "seed": {"value": None},
    }


# --- errors ----------------------------------------------------------------------------------


def test_missing_program_is_an_error_naming_the_program_key() -> None:
    with pytest.raises(
        ValueError, match=r"program: the command uses \$\{program\}.*`program` key"
    ):
        launch_for({"a": 1}, None, program=None)


def test_missing_program_is_fine_when_command_does_not_use_it() -> None:
    assert argv_for({"a": 1}, "${interpreter}", "-m", "pkg", "${args}", program=None) == [
        "python",
        "-m",
        "pkg",
        "--a=1",
    ]


def test_string_command_is_rejected() -> None:
    with pytest.raises(ValueError, match="command: must be a list"):
        build_launch(
            {}, program="t.py", command="python t.py", sweep_id="s", run_id="r", work_dir="/w"
        )


def test_unknown_os_name_is_rejected() -> None:
    with pytest.raises(ValueError, match="os_name: 'beos' is not known"):
        launch_for({}, None, os_name="beos")


def test_run_id_that_would_escape_the_sweep_folder_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"run_id: '\.\./x' cannot name a file"):
        build_launch({}, program="t", command=None, sweep_id="s", run_id="../x", work_dir="/w")


# --- metric lines ----------------------------------------------------------------------------


def test_metrics_line_with_json_object_is_parsed_with_its_step() -> None:
    assert parse_metrics_line('  {"_step": 3, "loss": 0.25}\n') == {"_step": 3, "loss": 0.25}


@pytest.mark.parametrize(
    "line",
    [
        "epoch 3 done",
        "",
        "[1, 2]",
        "3.5",
        '"text"',
        '{"loss": 0.1',
        "{loss: 0.1}",
        "{} trailing",
    ],
)
def test_non_object_lines_are_not_metrics(line: str) -> None:
    assert parse_metrics_line(line) is None


def test_metrics_line_accepts_python_nan_and_infinity_tokens() -> None:
    line = json.dumps({"loss": float("nan"), "grad": float("inf"), "low": float("-inf")})

    metrics = parse_metrics_line(line)

    assert metrics is not None
    assert math.isnan(metrics["loss"])
    assert metrics["grad"] == math.inf
    assert metrics["low"] == -math.inf


# --- end to end ------------------------------------------------------------------------------

ECHO_PROGRAM = """\
import json, os, sys
print("starting")
print(json.dumps({
    "argv": sys.argv[1:],
    "param_file": open(os.environ["SWEEP_PARAMS_PATH"]).read(),
    "trial": os.environ["SWEEP_TRIAL_ID"],
    "loss": float("nan"),
}))
"""


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/usr/bin/env"), reason="needs /usr/bin/env")
def test_launch_argv_runs_and_program_receives_arguments_intact(tmp_path: Path) -> None:
    program = tmp_path / "echo.py"
    program.write_text(ECHO_PROGRAM)
    params = {"name": "two words", "opt": {"lr": 0.1, "nest": {"b": True}}, "seed": None}
    launch = build_launch(
        params,
        program=str(program),
        command=None,
        sweep_id="s",
        run_id="r",
        work_dir=str(tmp_path),
        environ={},
    )
    write_launch_files(launch)
    # ${interpreter} is the bare name `python`; make sure it is this interpreter.
    path = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
    if not (Path(sys.executable).parent / "python").exists():
        pytest.skip("no `python` next to the test interpreter")

    result = subprocess.run(
        launch.argv,
        env={**os.environ, "PATH": path, **launch.env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    reports = [parse_metrics_line(line) for line in result.stdout.splitlines()]

    assert reports[0] is None
    report = reports[1]
    assert report is not None
    assert report["argv"] == [
        "--name=two words",
        "--opt={'lr': 0.1, 'nest': {'b': True}}",
        "--seed=None",
    ]
    assert report["trial"] == "r"
    assert yaml.safe_load(report["param_file"])["opt"] == {
        "value": {"lr": 0.1, "nest": {"b": True}}
    }
    assert math.isnan(report["loss"])
