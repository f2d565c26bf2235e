"""Data flows one way: the signal extraction in `ccl_bench.features` never reads `ccl_bench.metrics`."""

import ast
from pathlib import Path

import ccl_bench.features as F


def test_no_feature_module_imports_the_metrics():
    for path in Path(F.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                name = "." * node.level + (node.module or "")
                assert "metrics" not in name, f"{path.name} imports {name}"
            elif isinstance(node, ast.Import):
                assert not any("ccl_bench.metrics" in a.name for a in node.names), path.name
