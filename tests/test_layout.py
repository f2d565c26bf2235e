"""The house's rules, read from the source (imports parsed with `ast`, not grepped): data flows one way,
the harness and the models meet only in the runner, the CLI starts without torch, one resolver of the
home folder and one atomic write, and every declared dependency is used."""

import ast
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def modules(top: str) -> dict[str, Path]:
    """Dotted module name -> file, for every module of a package."""
    out = {}
    for p in sorted((ROOT / top).rglob("*.py")):
        parts = list(p.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = p
    return out


def imports(name: str, path: Path) -> set[str]:
    """Every module `path` imports, anywhere in it (top level or inside a function), absolute and dotted.
    `from . import x` counts as both the package and `package.x` (x may be a module)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module
            found.add(mod)
            found |= {f"{mod}.{a.name}" for a in node.names}
    return found


def within(mods: set[str], prefix: str) -> set[str]:
    return {m for m in mods if m == prefix or m.startswith(prefix + ".")}


CCL, REF = modules("ccl_bench"), modules("reference_impl")


def test_the_parser_sees_relative_and_nested_imports():
    # Guards the guard: the rules below would pass vacuously if imports were misread.
    assert "ccl_bench.metrics" in imports("ccl_bench.evaluate", CCL["ccl_bench.evaluate"])
    assert "ccl_bench.features.i3d" in imports("ccl_bench.features", CCL["ccl_bench.features"])  # inside a method
    assert within(imports("ccl_bench.runner.sample", CCL["ccl_bench.runner.sample"]), "reference_impl")


def test_features_never_import_metrics():
    for name, path in CCL.items():
        if name.startswith("ccl_bench.features"):
            assert not within(imports(name, path), "ccl_bench.metrics"), name


@pytest.mark.parametrize("name", ["ccl_bench.compare", "ccl_bench.plots"])
def test_compare_and_plots_import_neither_evaluate_nor_i3d(name):
    mods = imports(name, CCL[name])
    assert not within(mods, "ccl_bench.evaluate") and not within(mods, "ccl_bench.features.i3d"), name
    # Nor through what they import: load it in a clean interpreter and look.
    code = (f"import sys, {name}; bad = [m for m in ('ccl_bench.evaluate', 'ccl_bench.features.i3d') if m in sys.modules]; "
            "print(bad); sys.exit(bool(bad))")
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert run.returncode == 0, run.stdout + run.stderr


def test_reference_impl_imports_nothing_of_ccl_bench():
    for name, path in REF.items():
        assert not within(imports(name, path), "ccl_bench"), name


def test_only_the_runner_joins_harness_and_models():
    for name, path in CCL.items():
        if not name.startswith("ccl_bench.runner"):
            assert not within(imports(name, path), "reference_impl"), name


def test_cli_help_loads_neither_torch_nor_reference_impl():
    run = subprocess.run([sys.executable, "-X", "importtime", "-m", "ccl_bench", "--help"], cwd=ROOT, capture_output=True,
                         text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert run.returncode == 0 and "usage: ccl-bench" in run.stdout
    loaded = {line.split("|")[-1].strip() for line in run.stderr.splitlines() if line.startswith("import time:")}
    assert "ccl_bench.cli" in loaded  # the import-time log is read
    assert not {m for m in loaded if m.split(".")[0] in ("torch", "reference_impl")}


def test_cli_builds_no_table_itself():
    tree = ast.parse(CCL["ccl_bench.cli"].read_text())
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    names |= {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    assert "Table" not in names and "add_row" not in names


def _calls(path: Path, attr: str) -> int:
    return sum(1 for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Attribute) and n.attr == attr)


def test_one_atomic_write_and_one_home_resolver():
    replaces = {name for name, path in CCL.items() if _calls(path, "replace") and "os" in imports(name, path)}
    assert replaces == {"ccl_bench.paths"}, replaces
    homes = {name for name, path in CCL.items() if "CCL_BENCH_HOME" in path.read_text().replace('"""', "").split("#")[0]
             and any(isinstance(n, ast.Constant) and n.value == "CCL_BENCH_HOME" for n in ast.walk(ast.parse(path.read_text())))}
    assert homes == {"ccl_bench.paths"}, homes


# Distribution name -> the module a feature imports.
IMPORT_NAME = {"opencv-python-headless": "cv2", "pyyaml": "yaml", "av": "av", "open_clip_torch": "open_clip"}


def test_every_declared_dependency_is_imported():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    used = set()
    for name, path in {**CCL, **REF}.items():
        used |= {m.split(".")[0] for m in imports(name, path)}
    for dep in deps:
        dist = dep.split(";")[0].split(">")[0].split("=")[0].split("<")[0].strip().lower()
        assert IMPORT_NAME.get(dist, dist.replace("-", "_")) in used, f"{dist} is declared but no module imports it"
