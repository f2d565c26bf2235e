"""The house of `reference_impl` is one-way: streams <- interactions <- dual_stream <- diffusion, and
nothing of it imports the harness."""

import ast
from pathlib import Path

import reference_impl

ROOT = Path(reference_impl.__file__).parent


def imported_modules(path: Path) -> set[str]:
    """Absolute dotted names of the `reference_impl` / `ccl_bench` modules a file imports."""
    package = ["reference_impl", *path.relative_to(ROOT).parent.parts]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            name = ".".join([*base, node.module] if node.module else base)
            out.add(name)
            out |= {f"{name}.{a.name}" for a in node.names}
    return {m for m in out if m.split(".")[0] in ("reference_impl", "ccl_bench")}


def imports_of(folder: str) -> set[str]:
    files = sorted((ROOT / folder).rglob("*.py"))
    return set().union(*(imported_modules(f) for f in files))


def test_streams_and_interactions_do_not_import_upwards():
    above_streams = ("reference_impl.interactions", "reference_impl.dual_stream", "reference_impl.diffusion",
                     "reference_impl.registry")
    assert not {m for m in imports_of("streams") if m.startswith(above_streams)}
    above_interactions = ("reference_impl.dual_stream", "reference_impl.diffusion", "reference_impl.registry")
    assert not {m for m in imports_of("interactions") if m.startswith(above_interactions)}
    assert any(m.startswith("reference_impl.streams") for m in imports_of("interactions"))  # the checker sees imports
    assert not (ROOT / "models").exists()


def test_reference_impl_never_imports_the_harness():
    assert not {m for m in imports_of(".") if m.startswith("ccl_bench")}
