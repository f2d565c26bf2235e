"""Benchmark suites: YAML specs (`benchmarks/suites/*.yaml`) plus, at most, a generator module (procedural suites),
or a reader of the publisher's layout (benchmarks read from the user's local copy: `local_copy`)."""

from .build import build_suite, generate_scene, make_clip, render_scene
from .local_copy import BenchmarkItem, BenchmarkSpec, read_local_copy
from .perturb import apply_perturbation, parse_perturbation
from .scene import Event, Scene
from .spec import Rendering, SuiteSpec, list_suites, load_any_suite, load_benchmark, load_suite

__all__ = [
    "BenchmarkItem",
    "BenchmarkSpec",
    "Event",
    "Rendering",
    "Scene",
    "SuiteSpec",
    "apply_perturbation",
    "build_suite",
    "generate_scene",
    "list_suites",
    "load_any_suite",
    "load_benchmark",
    "load_suite",
    "make_clip",
    "parse_perturbation",
    "read_local_copy",
    "render_scene",
]
