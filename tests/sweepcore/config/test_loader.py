"""Reading configs from YAML/JSON files and mappings (WANDB-COMPAT.md section 3.5)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
import yaml

from sweepcore.config import SweepConfigError, check_config, load_config, parse_yaml

GRID_YAML = "method: grid\nparameters:\n  lr: {values: [0.1, 0.01]}\n"


def test_yaml_keeps_yaml_1_1_booleans_and_integers() -> None:
    parsed = parse_yaml("a: yes\nb: off\nc: 010\nd: 0x10\ne: '1e-5'\nf: 1.0e-5")
    assert parsed == {"a": True, "b": False, "c": 8, "d": 16, "e": "1e-5", "f": 1e-5}


def test_float_rule_does_not_change_pyyaml_safe_loader() -> None:
    parse_yaml("x: 1e-5")
    assert yaml.safe_load("x: 1e-5") == {"x": "1e-5"}


def test_yaml_repeated_key_is_an_error_naming_key_and_line() -> None:
    text = "method: grid\nparameters:\n  lr: {values: [1]}\n  lr: {values: [2]}\n"
    with pytest.raises(SweepConfigError, match=r"found the key 'lr' twice .* at line 4, column 3"):
        parse_yaml(text, source_name="sweep.yaml")


def test_yaml_merge_keys_may_override_merged_entries() -> None:
    text = "base: &b {min: 0.0, max: 1.0}\nx: {<<: *b, max: 2.0}\n"
    assert parse_yaml(text)["x"] == {"min": 0.0, "max": 2.0}


@pytest.mark.parametrize(
    ("text", "got"), [("", "an empty document"), ("- 1\n- 2", "[1, 2] (a list)")]
)
def test_yaml_document_that_is_not_a_mapping_is_refused(text: str, got: str) -> None:
    with pytest.raises(
        SweepConfigError, match=r"must be a mapping with keys such as method"
    ) as info:
        parse_yaml(text)
    assert f"got {got}." in str(info.value)


@pytest.mark.parametrize("suffix", [".yaml", ".yml"])
def test_load_config_reads_yaml_file_from_str_or_path(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"sweep{suffix}"
    path.write_text(GRID_YAML)
    for source in (path, str(path)):
        config = load_config(source)
        assert config.parameters[0].values == (0.1, 0.01)
        assert config.raw == parse_yaml(GRID_YAML)


def test_load_config_reads_json_file(tmp_path: Path) -> None:
    path = tmp_path / "sweep.json"
    path.write_text(
        json.dumps({"method": "random", "parameters": {"lr": {"min": 1e-5, "max": 1e-1}}})
    )
    assert load_config(path).parameters[0].min == 1e-5


def test_invalid_json_file_gives_error_naming_file(tmp_path: Path) -> None:
    path = tmp_path / "sweep.json"
    path.write_text("{'method': 'grid'}")
    with pytest.raises(SweepConfigError, match=r"sweep\.json: not valid JSON: "):
        load_config(path)


def test_problems_name_the_file_they_come_from(tmp_path: Path) -> None:
    path = tmp_path / "sweep.yaml"
    path.write_text("method: grid\nparameters: {}\n")
    with pytest.raises(
        SweepConfigError, match=r"problem\(s\) with the sweep config in .*sweep\.yaml"
    ) as info:
        load_config(path)
    assert info.value.source == str(path)
    assert "{} should be non-empty" in str(info.value)


def test_directory_given_as_path_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SweepConfigError, match="a directory, not a config file"):
        load_config(tmp_path)


def test_yaml_text_given_as_path_is_refused_with_hint() -> None:
    with pytest.raises(SweepConfigError, match=r"use load_config\(parse_yaml\(text\)\)"):
        load_config(GRID_YAML)


def test_source_of_wrong_type_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="takes a file path or a mapping, not int"):
        load_config(3)  # type: ignore[arg-type]


def test_raw_is_an_equal_copy_unaffected_by_later_edits() -> None:
    raw = parse_yaml(GRID_YAML)
    config = load_config(raw)
    raw["parameters"]["lr"]["values"].append(1.0)
    assert config.raw == parse_yaml(GRID_YAML)
    assert config.parameters[0].values == (0.1, 0.01)


def test_clean_config_loads_without_warnings() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        config, texts = check_config(parse_yaml(GRID_YAML))
        load_config(parse_yaml(GRID_YAML))
    assert texts == []
    assert config.method == "grid"
