"""The code's map holds: every package of app/ sits in a layer of the import
contracts (so lint-imports checks it), no package outgrows the rest, and every
raw-SQL file the code names exists where it says."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "app"
# A package past this share of the code's lines holds more than one job.
MAX_SHARE = 0.15


def layered_modules() -> set[str]:
    """Every module named in the layers contract of pyproject.toml."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    (layers,) = [
        contract["layers"]
        for contract in config["tool"]["importlinter"]["contracts"]
        if contract["type"] == "layers"
    ]
    return {name.strip() for layer in layers for name in re.split(r"[|:]", layer)}


def top_level_modules() -> set[str]:
    """app's subpackages and modules (``app/__init__.py`` is the factory on top)."""
    names = {f"app.{path.name}" for path in APP.iterdir() if (path / "__init__.py").exists()}
    names |= {f"app.{path.stem}" for path in APP.glob("*.py") if path.stem != "__init__"}
    return names


def test_every_package_is_in_a_layer():
    assert top_level_modules() - layered_modules() == set()
    assert layered_modules() - top_level_modules() == set()


def code_lines(path: Path) -> int:
    """Lines of Python and SQL under ``path``."""
    files = [file for file in path.rglob("*") if file.suffix in (".py", ".sql")]
    return sum(len(file.read_text().splitlines()) for file in files)


def test_no_package_holds_more_than_its_share():
    packages = [path for path in APP.iterdir() if (path / "__init__.py").exists()]
    total = code_lines(APP)
    shares = {path.name: code_lines(path) / total for path in packages}
    assert max(shares.values()) <= MAX_SHARE, sorted(shares.items(), key=lambda kv: -kv[1])


SQL_REFERENCE = re.compile(r'\b(?:query|sql_file)\(\s*"([\w.]+)",\s*"([^"]+\.sql)"')


@pytest.mark.parametrize("folder", ["app", "bench"])
def test_every_named_sql_file_exists(folder):
    missing = [
        f"{source.relative_to(ROOT)}: {package} {name}"
        for source in (ROOT / folder).rglob("*.py")
        for package, name in SQL_REFERENCE.findall(source.read_text())
        if not (ROOT / package.replace(".", "/") / name).is_file()
    ]
    assert missing == []
