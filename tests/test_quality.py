"""House rules that CI enforces: sweepcore never imports Prefect; ruff and mypy are clean."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).parents[1]

BLOCK_PREFECT = """
import importlib, pkgutil, sys

class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name == "prefect" or name.startswith("prefect."):
            raise ImportError("sweepcore must not import prefect: " + name)

sys.meta_path.insert(0, Blocker())
import sweepcore
names = [m.name for m in pkgutil.walk_packages(sweepcore.__path__, "sweepcore.")]
for name in names:
    importlib.import_module(name)
print(len(names))
"""


def test_every_sweepcore_module_imports_without_prefect():
    result = subprocess.run(
        [sys.executable, "-c", BLOCK_PREFECT], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) >= 20


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed")
    return found


def test_ruff_check_and_format_are_clean():
    check = subprocess.run([_tool("ruff"), "check", "."], cwd=REPO, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout
    fmt = subprocess.run(
        [_tool("ruff"), "format", "--check", "."], cwd=REPO, capture_output=True, text=True
    )
    assert fmt.returncode == 0, fmt.stdout


def test_mypy_strict_is_clean_on_sweepcore():
    result = subprocess.run([_tool("mypy"), "sweepcore"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
