"""Benchmark suites: YAML specs (`benchmarks/suites/*.yaml`) plus, at most, a generator module."""

from .build import build_suite, generate_scene, make_clip, render_scene
from .perturb import apply_perturbation, parse_perturbation
from .scene import Event, Scene
from .spec import Rendering, SuiteSpec, list_suites, load_suite

__all__ = [
    "Event",
    "Rendering",
    "Scene",
    "SuiteSpec",
    "apply_perturbation",
    "build_suite",
    "generate_scene",
    "list_suites",
    "load_suite",
    "make_clip",
    "parse_perturbation",
    "render_scene",
]
