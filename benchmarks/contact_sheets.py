"""Step 10's contact sheets: for every trained model of the claims layout, the T2AV samples of the first test
prompts beside the suite's own clips (8 frames and a spectrogram each), sampled with the model's own guidance
scheme (the claims study's), one PNG per model, and an index page naming each checkpoint by sha256.

    python benchmarks/contact_sheets.py --checkpoints checkpoints/av-sync/claims --seed 0 --out results/training/sheets

`--models a,b` draws those alone and keeps the other sheets of `--out`: the index (`index.json`, rendered as
`README.md`) names the commit and date that drew each sheet.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _train_small():
    spec = importlib.util.spec_from_file_location("train_small", Path(__file__).with_name("train_small.py"))
    mod = importlib.util.module_from_spec(spec)
    sys.modules["train_small"] = mod  # its dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def sheets(checkpoints: Path, seed: int, out: Path, num: int, steps: int, device: str,
           models: list[str] | None = None) -> list[dict]:
    """One `<model>_t2av.png` per model folder `CHECKPOINTS/seed<seed>/<model>/` -> rows for the index."""
    from ccl_bench.claims import load_study
    from ccl_bench.claims.spec import Side
    from ccl_bench.errors import CCLBenchError
    from ccl_bench.progress import progress
    from ccl_bench.weights import sha256_of

    folder = checkpoints / f"seed{seed}"
    found = sorted(p.name for p in folder.iterdir() if (p / "ema.safetensors").is_file()) if folder.is_dir() else []
    if not found:
        raise CCLBenchError(f"{folder}: no trained model folders (<model>/ema.safetensors + config.json)")
    spec = load_study("av-sync")
    draw = _train_small().sample_sheet
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    todo = [m for m in found if models is None or m in models]
    with progress() as bar:
        task = bar.add_task("contact sheets", total=len(todo))
        for model in todo:
            guidance = spec.guidance_of(Side(model)) or "cfg"
            png = out / f"{model}_t2av.png"
            draw(folder / model, png, num, steps, device, f"{model} seed {seed}, T2AV ({guidance}, {steps} steps)",
                 guidance=guidance)
            sha = sha256_of(folder / model / "ema.safetensors")
            rows.append({"model": model, "guidance": guidance, "png": png.name, "sha256": sha})
            bar.advance(task)
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoints", default="checkpoints/av-sync/claims", help="CK/seed<k>/<model>/ (the claims layout)")
    ap.add_argument("--seed", type=int, default=0, help="the training seed whose models are drawn")
    ap.add_argument("--out", default="results/training/sheets")
    ap.add_argument("--num", type=int, default=4, help="test prompts per sheet")
    ap.add_argument("--steps", type=int, default=25, help="sampling steps")
    ap.add_argument("--models", help="comma list (default: every model folder)")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args(argv)
    from ccl_bench.provenance import provenance

    out = Path(args.out)
    rows = sheets(Path(args.checkpoints), args.seed, out, args.num, args.steps, args.device,
                  args.models.split(",") if args.models else None)
    command = "python benchmarks/contact_sheets.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    prov = provenance(seed=0, command=command.split()[1:])
    drawn = {"commit": str(prov.get("commit", "?"))[:7], "date_utc": prov.get("date_utc", "?"),
             "torch": prov.get("versions", {}).get("torch", "?"), "device": args.device, "command": command}
    rows = merge_index(out / "index.json", [{**r, **drawn} for r in rows], keep_others=bool(args.models))
    lines = ["# Contact sheets: T2AV samples of each trained model beside the suite's clips", "",
             f"Training seed {args.seed}; the first {args.num} test prompts of the av-sync `tiny` rendering; each model "
             f"sampled with its own guidance scheme (the claims study's), {args.steps} steps, the sampling noise of "
             "`ccl-bench run` (clip seed 0). Each prompt: the generated row, then the suite's clip; 8 frames and the "
             "spectrogram.", "", "| model | guidance | sheet | sha256 of ema.safetensors | drawn at |", "|---|---|---|---|---|"]
    lines += [f"| {r['model']} | {r['guidance']} | [{r['png']}]({r['png']}) | `{r['sha256'][:16]}` | "
              f"{r['commit']}, {r['date_utc']} |" for r in rows]
    lines += ["", "Commands (torch, device):", ""]
    lines += [f"- `{c}` ({t}, {d})" for c, t, d in dict.fromkeys((r["command"], r["torch"], r["device"]) for r in rows)]
    (out / "README.md").write_text("\n".join(lines + [""]))
    print("\n".join(lines))


def merge_index(path: Path, new: list[dict], keep_others: bool) -> list[dict]:
    """The index rows after a drawing: the new rows, and with `keep_others` the earlier rows of models not drawn
    again whose sheet is still beside the index; written back to `path` (JSON), sorted by model."""
    old = json.loads(path.read_text()) if keep_others and path.is_file() else []
    fresh = {r["model"] for r in new}
    rows = [r for r in old if r["model"] not in fresh and (path.parent / r["png"]).is_file()] + new
    rows.sort(key=lambda r: r["model"])
    path.write_text(json.dumps(rows, indent=1) + "\n")
    return rows


if __name__ == "__main__":
    main()
