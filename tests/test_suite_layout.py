"""The test suite's own shape: shared fixtures live in conftest.py and helpers in *_support modules,
so no test module imports another (a test file can then move, or go, without breaking the others)."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def imported_test_modules(path: Path) -> list[str]:
    """The test_* modules a file imports, anywhere in it (at the top or inside a function)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom):
            names = [node.module or ""] if node.module else [alias.name for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found += [name for name in names if name.rsplit(".", 1)[-1].startswith("test_")]
    return found


def test_no_test_module_imports_another():
    offenders = {str(path.relative_to(TESTS)): imported
                 for path in sorted(TESTS.rglob("*.py")) if (imported := imported_test_modules(path))}
    assert offenders == {}, "move what is shared into conftest.py or a *_support module"


def test_the_check_sees_each_way_of_importing_a_test_module(tmp_path):
    sample = tmp_path / "test_sample.py"
    sample.write_text("from .test_outbox import app\nfrom tests.test_engine import Talk\nimport tests.test_polls\n"
                      "from . import test_escalation\n"
                      "def test_x():\n    from .test_broadcasts import draft\n"
                      "from .outbox_support import app\nfrom .conftest import Reporter\n")
    assert imported_test_modules(sample) == ["test_outbox", "tests.test_engine", "tests.test_polls",
                                             "test_escalation", "test_broadcasts"]
