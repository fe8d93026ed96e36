"""The test suite's own layout: shared helpers live in tests/support, so no test module imports another
test module (a test_* module is pytest's to collect, not a library), and a module of one area imports
another area only through tests/support."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def imports(source: str) -> list[list[str]]:
    """For each import statement of `source`, the absolute names of the modules it may import
    (`from tests.a import b` may import tests.a.b as well as tests.a)."""
    found: list[list[str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [[alias.name] for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append([node.module, *(f"{node.module}.{alias.name}" for alias in node.names)])
    return found


def problem(area: str | None, name: str) -> str | None:
    mod = name.split(".")
    if mod[0] != "tests" or len(mod) < 2:
        return None
    if mod[-1].startswith("test_") or name == "tests.conftest":
        return f"imports the test module {name}: move what it needs to tests/support"
    if len(mod) > 2 and mod[1] not in ("support", area):
        return f"imports {name} of another area: shared helpers belong in tests/support"
    return None


def violations(path: str, source: str) -> list[str]:
    """What is wrong with the imports of the module at `path` (relative to the repository root)."""
    parts = Path(path).with_suffix("").parts
    area = parts[1] if parts[0] == "tests" and len(parts) > 2 else None
    found = []
    for names in imports(source):
        problems = [p for name in names if (p := problem(area, name))]
        if problems:
            found.append(f"{path} {problems[0]}")
    return found


def test_no_test_module_imports_another() -> None:
    files = sorted([*(ROOT / "tests").rglob("*.py"), *(ROOT / "benchmarks").rglob("*.py")])
    assert len(files) > 100
    found = [
        v
        for f in files
        if "vendor" not in f.parts
        for v in violations(str(f.relative_to(ROOT)), f.read_text())
    ]
    assert found == []


@pytest.mark.parametrize(
    ("path", "source", "expected"),
    [
        ("tests/alarms/test_a.py", "from tests.alarms.test_conditions import eventually", 1),
        ("tests/ingest/test_b.py", "import tests.ingest.test_mqtt", 1),
        ("tests/ingest/test_b.py", "from tests.ingest import test_mqtt", 1),
        ("tests/identity/test_c.py", "from tests.conftest import Tokens", 1),
        ("tests/canary/test_d.py", "from tests.monitoring.prometheus import start_prometheus", 1),
        ("benchmarks/e.py", "from tests.console.conftest import console", 1),
        (
            "tests/alarms/test_f.py",
            "from tests.alarms.conftest import Feed\nfrom tests.alarms.sse import Event",
            0,
        ),
        ("tests/canary/test_g.py", "from tests.support.prometheus import start_prometheus", 0),
        ("benchmarks/h.py", "from tests.support.servers import start_gridos\nimport time", 0),
    ],
)
def test_the_rule_sees_what_it_forbids(path: str, source: str, expected: int) -> None:
    assert len(violations(path, source)) == expected
