"""Load the W&B conformance cases (``tests/cases/wandb/*.yaml``, format in its README)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

CASES_DIR = Path(__file__).parent / "wandb"


def load_cases(kind: str) -> list[dict[str, Any]]:
    """Every case whose ``kind`` is ``kind``, sorted by id."""
    cases = []
    for path in sorted(CASES_DIR.glob("*.yaml")):
        case = yaml.safe_load(path.read_text())
        if case.get("kind") == kind:
            if "config_yaml" in case and "config" not in case:
                case["config"] = yaml.safe_load(case["config_yaml"])
            cases.append(case)
    return cases


def case_ids(cases: list[dict[str, Any]]) -> list[str]:
    """Test ids for ``pytest.mark.parametrize``."""
    return [c["id"] for c in cases]
