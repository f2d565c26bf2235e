"""The runs a study needs, as the exact commands that make them (`ccl-bench claims --plan`).

Checkpoints are read as `<checkpoints>/seed<k>/<model>/` (stage 2 of `model` trained with seed k) and
the runs written into the matrix layout of `matrix.py`: one `ccl-bench run --task all` per model,
guidance scheme and setting, in `<runs>/seed<k>/<variant>`, variant = `<guidance>[-<setting>-<value>]`."""

from __future__ import annotations

from .spec import Primary, StudySpec


def weights(model: str, checkpoints: str, seed: int) -> str:
    """The run's weights: a model's own checkpoint; for the cascade (a plugin with no checkpoint of its
    own), each stage's model trained with the same seed."""
    from ..runner.cascade import STAGES

    if model == "cascade":
        return " ".join(f"--set {stage}={checkpoints}/seed{seed}/{m}" for stage, m in STAGES.items())
    return f"--checkpoint {checkpoints}/seed{seed}/{model}"


def _metric_parts(p: Primary) -> list[Primary]:
    return [x for q in (p.parts or (p,)) for x in ([q] if q.kind in ("metric", "convergence") else [])]


def plan(spec: StudySpec, checkpoints: str, runs: str, device: str = "cuda") -> list[str]:
    """Shell lines: the `ccl-bench run` of every side whose primary reads run results, for seeds
    0..min_seeds-1; the measurement script for claims 1-2; the snapshot pattern for convergence claims."""
    lines, seen, measured, snap = [], set(), set(), set()
    for claim in spec.claims:
        for comp in claim.comparisons:
            for side in (comp.treatment, comp.comparator):
                if claim.primary.kind == "measure":
                    measured.add(side.model)
                for p in _metric_parts(claim.primary):
                    key = (side.model, spec.guidance_of(side) or "ucg", side.settings)
                    if p.kind == "convergence":
                        snap.add(key)
                    else:
                        seen.add(key)
    lines.append(f"# {spec.suite}: {len(seen)} run configurations x {spec.min_seeds} training seeds")
    for model, guidance, settings in sorted(seen):
        variant = guidance + "".join(f"-{k}-{v}" for k, v in settings)
        extra = "".join(f" --{k} {v}" for k, v in settings)
        for k in range(spec.min_seeds):
            lines.append(f"ccl-bench run --model {model} --suite {spec.suite} {weights(model, checkpoints, k)} "
                         f"--task all --guidance {guidance}{extra} --device {device} --quiet --out {runs}/seed{k}/{variant}")
    lines.append("# the frame: can each metric tell the suite's clips (through the codecs) from noise? (`ceiling`, `floor`)")
    for model in ("ceiling", "floor"):
        lines.append(f"ccl-bench run --model {model} --suite {spec.suite} --task all --device {device} --quiet "
                     f"--out {runs}/frame")
    if measured:
        lines.append("# claims 1-2: model measurements (STREAMS: the stage-1 checkpoint)")
        lines.append(f"python benchmarks/claims_measures.py --checkpoints {checkpoints} --streams STREAMS --runs {runs} "
                     f"--models {','.join(sorted(measured))} --device {device}")
    for model, guidance, _ in sorted(snap):
        lines.append(f"# convergence: for every evaluation snapshot N of {model} (a checkpoint saved at step N)")
        for k in range(spec.min_seeds):
            lines.append(f"#   ccl-bench run --model {model} --suite {spec.suite} --checkpoint SNAPSHOT_seed{k}_stepN "
                         f"--task t2av --guidance {guidance} --device {device} --quiet --out {runs}/seed{k}/stepN")
    return lines
