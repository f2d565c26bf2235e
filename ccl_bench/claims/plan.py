"""The runs a study needs, as the exact commands that make them (`ccl-bench claims --plan`).

Checkpoints are read as `<checkpoints>/seed<k>/<model>/` (stage 2 of `model` trained with seed k) and
the runs written into the matrix layout of `matrix.py`: one `ccl-bench run` per model, guidance scheme and
setting, with the tasks its claims read, in `<runs>/seed<k>/<variant>`, variant = `<guidance>[-<setting>-<value>]`."""

from __future__ import annotations

from pathlib import Path

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


def _result_tasks(path: Path) -> set[str]:
    """The tasks a `ccl-bench run` result file holds (none if it is absent or unreadable)."""
    import json

    try:
        return set(json.loads(path.read_text()).get("tasks", {}))
    except (OSError, ValueError):
        return set()


def plan(spec: StudySpec, checkpoints: str, runs: str, device: str = "cuda", missing: bool = False) -> list[str]:
    """Shell lines: the `ccl-bench run` of every side (of a comparison or a split) whose primary reads run results, for seeds
    0..min_seeds-1, with the tasks its claims read (primary and secondary metrics); the measurement script
    for claims 1-2; the snapshot pattern for convergence claims. `missing`: only what `runs` lacks (a
    result file without all its tasks counts as missing; measures per model and seed)."""
    lines, tasks, measured, snap = [], {}, {}, set()
    for claim in spec.claims:
        needed = [t for p in _metric_parts(claim.primary) if p.kind == "metric" for t in p.tasks]
        needed += [str(x["task"]) for x in claim.secondary if "metric" in x and "task" in x]
        for comp in claim.comparisons:
            for side in (comp.treatment, comp.comparator):
                if claim.primary.kind == "measure":
                    measured.setdefault(side.model, set()).add(claim.primary.name)
                for p in _metric_parts(claim.primary):
                    key = (side.model, spec.guidance_of(side) or "ucg", side.settings)
                    if p.kind == "convergence":
                        snap.add(key)
                    else:
                        tasks.setdefault(key, set()).update(needed)
        for x in claim.splits:  # a split reads its sides on the primary metric alone
            for side in (x.treatment, x.comparator):
                for p in _metric_parts(claim.primary):
                    if p.kind == "metric":
                        tasks.setdefault((side.model, spec.guidance_of(side) or "ucg", side.settings), set()).update(p.tasks)
    order = {t: i for i, t in enumerate(("t2av", "t2v", "t2a", "a2v", "v2a"))}
    todo = []
    for (model, guidance, settings), need in sorted(tasks.items()):
        variant = guidance + "".join(f"-{k}-{v}" for k, v in settings)
        extra = "".join(f" --{k} {v}" for k, v in settings)
        task = ",".join(sorted(need, key=lambda t: order.get(t, 99))) or "all"
        for k in range(spec.min_seeds):
            if missing and need and need <= _result_tasks(Path(runs) / f"seed{k}" / variant / spec.suite / f"{model}.json"):
                continue
            todo.append(f"ccl-bench run --model {model} --suite {spec.suite} {weights(model, checkpoints, k)} "
                        f"--task {task} --guidance {guidance}{extra} --device {device} --quiet --out {runs}/seed{k}/{variant}")
    lines.append(f"# {spec.suite}: {len(tasks)} run configurations x {spec.min_seeds} training seeds"
                 + (f"; {len(todo)} run(s) missing from {runs}" if missing else ""))
    lines += todo
    lines.append("# the frame: can each metric tell the suite's clips (through the codecs) from noise? (`ceiling`, `floor`)")
    for model in ("ceiling", "floor"):
        if missing and _result_tasks(Path(runs) / "frame" / spec.suite / f"{model}.json"):
            continue
        lines.append(f"ccl-bench run --model {model} --suite {spec.suite} --task all --device {device} --quiet "
                     f"--out {runs}/frame")
    if missing:
        measured = {m: names for m, names in measured.items() if any(
            not (Path(runs) / f"seed{k}" / "measures" / n / f"{m}.json").is_file() for k in range(spec.min_seeds) for n in names)}
    if measured:
        lines.append("# claims 1-2: model measurements (STREAMS: the stage-1 checkpoint)")
        lines.append(f"python benchmarks/claims_measures.py --checkpoints {checkpoints} --streams STREAMS --runs {runs} "
                     f"--models {','.join(sorted(measured))} --device {device}")
    for model, guidance, _ in sorted(snap):
        lines.append(f"# convergence: for every evaluation snapshot N of {model} (train_small.py --snapshot-every; "
                     f"benchmarks/claims_queue.py --snapshots writes these lines)")
        for k in range(spec.min_seeds):
            lines.append(f"#   ccl-bench run --model {model} --suite {spec.suite} --checkpoint SNAPSHOT_seed{k}_stepN "
                         f"--task t2av --guidance {guidance} --device {device} --quiet --out {runs}/seed{k}/stepN")
    return lines
