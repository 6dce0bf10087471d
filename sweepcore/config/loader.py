"""Reading a sweep config from a YAML or JSON file, or a mapping, into a :class:`SweepConfig`.

YAML is read with PyYAML's safe loader, so YAML 1.1 rules hold (``yes``/``no`` are booleans,
``010`` is octal) with two deliberate deviations:

* Scientific notation without a dot or without an exponent sign (``1e-5``, ``3e6``,
  ``1.0e5``) is a float, as in YAML 1.2. Under YAML 1.1 it is a string, which W&B then rejects
  as an "ambiguous" bound; users mean a number there (WANDB-COMPAT.md section 3.5,
  wandb/wandb#1129).
* A key repeated in one mapping is an error naming its line. PyYAML silently keeps the last
  one, which hides a second ``lr:`` under ``parameters``; the YAML spec itself requires unique
  keys.
"""

from __future__ import annotations

import copy
import json
import os
import re
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from sweepcore.config._report import describe
from sweepcore.config.errors import ConfigProblem, SweepConfigError
from sweepcore.config.model import SweepConfig
from sweepcore.config.validate import validate_config

__all__ = ["SweepConfigWarning", "check_config", "load_config", "parse_yaml"]

#: Floats in YAML 1.2 that YAML 1.1 reads as strings: an exponent with no dot or no sign.
_SCIENTIFIC_FLOAT = re.compile(
    r"""^(?:[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+
    |[-+]?\.[0-9][0-9_]*[eE][-+]?[0-9]+)$""",
    re.VERBOSE,
)
_MERGE_TAG = "tag:yaml.org,2002:merge"


class SweepConfigWarning(UserWarning):
    """A fixable issue in a sweep config that does not block it (a deprecated or ignored key)."""


class _SweepYamlLoader(yaml.SafeLoader):  # type: ignore[misc]  # PyYAML ships no type stubs
    """PyYAML's safe loader with YAML 1.2 scientific floats and an error on duplicate keys."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:  # `<<:` merges may be overridden on purpose
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                is_repeat = key in seen
            except TypeError:  # unhashable key: PyYAML reports it below
                continue
            if is_repeat:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping",
                    node.start_mark,
                    f"found the key {key!r} twice (the first one would be silently dropped)",
                    key_node.start_mark,
                )
            seen.add(key)
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return mapping


# Registered on the subclass only: PyYAML copies the resolver table on first registration, so
# yaml.SafeLoader and every other user of PyYAML keep YAML 1.1 behaviour.
_SweepYamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float", _SCIENTIFIC_FLOAT, list("-+0123456789.")
)


def parse_yaml(text: str, *, source_name: str | None = None) -> dict[str, Any]:
    """Parse sweep-config YAML: PyYAML ``safe_load`` plus the deviations in the module docstring.

    Args:
        text: The YAML document.
        source_name: Name used in error messages, e.g. the file name.

    Returns:
        The top-level mapping.

    Raises:
        SweepConfigError: The text is not valid YAML, repeats a key, or is not a mapping.

    Example:
        >>> parse_yaml("min: 1e-5\\nflag: yes")
        {'min': 1e-05, 'flag': True}
    """
    try:
        data = yaml.load(text, Loader=_SweepYamlLoader)
    except yaml.YAMLError as exc:
        raise _unreadable(source_name, f"not valid YAML: {_yaml_reason(exc)}.") from None
    return _require_mapping(data, source_name)


def check_config(
    source: str | os.PathLike[str] | Mapping[str, Any], *, source_name: str | None = None
) -> tuple[SweepConfig, list[str]]:
    """Load and validate a sweep config, returning its warnings instead of emitting them.

    The CLI prints the warnings and the Prefect flow logs them; :func:`load_config` turns them
    into :class:`SweepConfigWarning`.

    Args:
        source: Path of a ``.yaml``/``.yml``/``.json`` file (other suffixes are read as YAML),
            or the config as a mapping.
        source_name: Name for messages; defaults to the path.

    Returns:
        The validated config and the warning texts (deprecated distributions, ignored keys),
        each starting with its key path.

    Raises:
        SweepConfigError: One error listing every problem, or naming the file that could not be
            read or parsed.
        TypeError: ``source`` is neither a path nor a mapping.
    """
    raw, name = _read_source(source, source_name)
    result = validate_config(raw)
    if result.config is None:
        raise SweepConfigError(list(result.problems), source=name)
    return result.config, list(result.warnings)


def load_config(
    source: str | os.PathLike[str] | Mapping[str, Any], *, source_name: str | None = None
) -> SweepConfig:
    """Load and validate a sweep config, emitting its warnings as :class:`SweepConfigWarning`.

    Args:
        source: Path of a ``.yaml``/``.yml``/``.json`` file, or the config as a mapping.
        source_name: Name for messages; defaults to the path.

    Returns:
        The frozen config: leaves in canonical order with defaults filled, ``raw`` a copy of the
        mapping as given.

    Raises:
        SweepConfigError: One error listing every problem; see :func:`check_config`.
        TypeError: ``source`` is neither a path nor a mapping.

    Example:
        >>> cfg = load_config({"method": "grid", "parameters": {"lr": {"values": [0.1]}}})
        >>> cfg.parameters[0].distribution
        'categorical'
    """
    config, texts = check_config(source, source_name=source_name)
    for text in texts:
        warnings.warn(text, SweepConfigWarning, stacklevel=2)
    return config


def _read_source(
    source: str | os.PathLike[str] | Mapping[str, Any], source_name: str | None
) -> tuple[Mapping[str, Any], str | None]:
    if isinstance(source, Mapping):
        return copy.deepcopy(dict(source)), source_name
    if not isinstance(source, str | os.PathLike):
        raise TypeError(f"load_config takes a file path or a mapping, not {type(source).__name__}")
    if isinstance(source, str) and "\n" in source:
        raise _unreadable(
            source_name,
            "load_config takes a file path or a mapping, and this string looks like YAML text; "
            "use load_config(parse_yaml(text)).",
        )

    path = Path(source)
    name = source_name or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _unreadable(name, "no such file; check the path.") from None
    except IsADirectoryError:
        raise _unreadable(name, "a directory, not a config file.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise _unreadable(name, f"cannot read it: {exc}.") from None

    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise _unreadable(name, f"not valid JSON: {exc}.") from None
        return _require_mapping(data, name), name
    return parse_yaml(text, source_name=name), name


def _require_mapping(data: Any, source_name: str | None) -> dict[str, Any]:
    if isinstance(data, dict):
        return data
    got = "an empty document" if data is None else describe(data)
    problem = ConfigProblem(
        path="",
        message=f"{_where(source_name)}the sweep config must be a mapping with keys such as "
        f"method and parameters; got {got}.",
        kind="invalid_type",
    )
    raise SweepConfigError([problem], source=source_name)


def _unreadable(source_name: str | None, text: str) -> SweepConfigError:
    problem = ConfigProblem(path="", message=_where(source_name) + text, kind="unreadable_source")
    return SweepConfigError([problem], source=source_name)


def _where(source_name: str | None) -> str:
    return f"{source_name}: " if source_name else ""


def _yaml_reason(exc: yaml.YAMLError) -> str:
    """One line: what the parser found, and where (1-based line and column)."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        what = exc.problem or exc.context or "syntax error"
        if mark is not None:
            return f"{what} at line {mark.line + 1}, column {mark.column + 1}"
        return what
    return str(exc).replace("\n", " ")
