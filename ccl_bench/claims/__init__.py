"""The claims study: each claim of the CCL paper, pre-registered as data (`benchmarks/claims/<suite>.yaml`),
gets a verdict from the run matrix by a paired bootstrap over prompts and training seeds.

- `spec`: the YAML -> `StudySpec` (claims, comparisons, primary and secondary metrics, [design] readings)
- `verdict`: the pure maths (hierarchical paired bootstrap, the verdict rule)
- `matrix`: the run matrix on disk (layout in its docstring) -> per-run statistics
- `convergence`, `compute`, `measures`: claim-specific quantities (claims 6, 7; 1 and 2)
- `study`, `report`: `ccl-bench claims` and its pages"""

from .spec import StudySpec, load_study
from .study import run_claims
from .verdict import Outcome, RunStatistic, paired_difference, verdict

__all__ = ["Outcome", "RunStatistic", "StudySpec", "load_study", "paired_difference", "run_claims", "verdict"]
