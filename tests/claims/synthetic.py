"""A synthetic run matrix on disk, as `ccl-bench run --out RUNS/seed<k>` writes it, with per-clip sync
results planted so a model's clips are ceiling-like (sound and picture events together) or
floor-like (unrelated), for the claims study's tests. Seconds to write, no model, no decoding."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ccl_bench.features.store import SetResults, save_results

SPEC = """
suite: av-sync
min_seeds: 3
bootstrap: {{replicates: {replicates}, level: 0.95, seed: 0}}
own_guidance: {{}}
cannot_show: ["synthetic test study"]
design: ["[design] test reading"]
claims:
  - id: 1
    name: planted
    claim: "the treatment syncs better"
    comparisons:
      - {{treatment: {{model: {treatment}}}, comparator: {{model: {comparator}}}}}
    primary: {{metric: event-hit, better: higher, tasks: [t2av]}}
    secondary:
      - {{metric: event-sync, task: t2av}}
    design: ["[design] planted effect"]
"""


def write_spec(path: Path, treatment: str, comparator: str, replicates: int = 200) -> Path:
    path.write_text(SPEC.format(treatment=treatment, comparator=comparator, replicates=replicates))
    return path


def sync_row(rng: np.random.Generator, quality: str, fps: float = 16.0) -> dict:
    """One clip's sync analysis: 3 audio onsets; visual events at the onsets (ceiling, within a third of
    a frame) or anywhere in the 2 s clip (floor)."""
    onsets = np.sort(rng.uniform(0.25, 1.75, 3))
    events = onsets + rng.normal(0, 0.02, 3) if quality == "ceiling" else np.sort(rng.uniform(0.25, 1.75, 3))
    return {"onsets": onsets, "events": events, "fps": np.array([fps]), "onset_strength": np.zeros(8),
            "photometric": np.zeros(4), "kinematic": np.zeros(4)}


def write_run(runs: Path, seed: int, model: str, quality: str, prompts: int = 12, guidance: str = "ucg",
              data_seed: int = 0, variant: str | None = None) -> Path:
    """`runs/seed<seed>/[variant/]av-sync/<model>.json` and its t2av per-clip results."""
    root = runs / f"seed{seed}" / (variant or "") / "av-sync"
    clips = root / "clips" / model / "t2av"
    ref = root / "clips" / "reference"
    clips.mkdir(parents=True, exist_ok=True)
    ref.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([data_seed, seed, sum(map(ord, model))])
    ids = [f"test-{i:05d}" for i in range(prompts)]
    (clips / "manifest.json").write_text(json.dumps({"task": "t2av", "clips": [{"id": i, "video": f"{i}.mkv", "events": []}
                                                                               for i in ids]}))
    save_results(SetResults(ids=ids, results={"sync": [sync_row(rng, quality) for _ in ids]}), clips / "per_clip.npz")
    result = {"suite": "av-sync", "model": model, "settings": {"guidance": guidance, "protocol": "videogpt"},
              "tasks": {"t2av": {"metrics": {}, "clips": str(clips.relative_to(root)), "reference": str(ref.relative_to(root))}}}
    (root / f"{model}.json").write_text(json.dumps(result))
    return root / f"{model}.json"


def write_matrix(runs: Path, models: dict[str, str], seeds=(0, 1, 2), **kw) -> Path:
    """models: name -> 'ceiling' | 'floor'."""
    for s in seeds:
        for m, q in models.items():
            write_run(runs, s, m, q, **kw)
    return runs
