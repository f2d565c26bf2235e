"""What a fresh install relies on: every package folder is listed, CI runs the README's test command."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_folder_is_listed():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for top in ("ccl_bench", "reference_impl")
        for p in (ROOT / top).rglob("__init__.py")
    }
    assert found <= listed, f"add to pyproject's packages: {sorted(found - listed)}"
    assert "ccl_bench.suite_specs" in listed


def test_ci_runs_the_readme_test_command():
    ci = [ln.strip() for ln in (ROOT / ".ci" / "run").read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    command = ci[-1]
    readme = (ROOT / "README.md").read_text()
    assert command in readme, f"README.md should give the test command CI runs: {command}"


def test_constraints_pin_the_ci_torch_set():
    pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)$", (ROOT / "constraints" / "ci.txt").read_text(), re.M))
    assert pins["torch"] == "2.14.1" and pins["torchvision"] == "0.29.1"
