"""Join what a `benchmarks/device_session.sh` call brought back into the committed campaign: each finished run's
weights, config and log into `campaign/runs/<model>/seed-<k>/`, its link into the claims layout
(`claims/seed<k>/<model>`), its row into `campaign/summary.json` and `summary.md`, and the evaluations' result
files into the run matrix. Nothing committed is overwritten: a run already in the campaign is left as it is (and
said), and so is a result file already in the matrix. Run it again on the same folders: it does nothing more.

    python benchmarks/join_session.py /path/to/call1 /path/to/call2      # folders holding conv.tar.NN, matrix.tar.xz
    python benchmarks/join_session.py /path/to/call --weights ccl,none  # the other models: sha256, not weights
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from ccl_bench.weights import sha256_of

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))  # train_small.py, beside this script
RUN_FILES = ("config.json", "metrics.jsonl", "ema.safetensors")


def _parts(folder: Path) -> bytes:
    parts = sorted(folder.glob("conv.tar.[0-9]*"))
    if not parts:
        raise SystemExit(f"{folder}: no conv.tar.NN parts (what device_session.sh returns)")
    return b"".join(p.read_bytes() for p in parts)


def _full_commit(commit: str, root: Path) -> str:
    try:
        return subprocess.check_output(["git", "rev-parse", commit], cwd=root, text=True, stderr=subprocess.DEVNULL).strip()
    except (OSError, subprocess.CalledProcessError):
        return commit


def weights_sha256(run: Path) -> str:
    """The sha256 of a run's ema.safetensors: of the file, or as recorded where the weights were not kept."""
    from train_small import WEIGHTS_SHA

    if (run / "ema.safetensors").is_file():
        return sha256_of(run / "ema.safetensors")
    return (run / WEIGHTS_SHA).read_text().split()[0]


def summary_row(run: Path, root: Path) -> dict:
    """The campaign summary's row of a finished run folder (config.json's provenance; the last logged steps as
    `train_small.py` reads them)."""
    from train_small import last_logged

    cfg = json.loads((run / "config.json").read_text())
    prov = cfg["provenance"]
    logged = last_logged(run / "metrics.jsonl")
    return {"steps": cfg["steps_done"], "loss_mean_last5_logged": round(logged["loss_mean_last5_logged"], 5),
            "seconds": logged["seconds"], "commit": _full_commit(prov["commit"], root),
            # train_small's provenance, or `ccl-bench train`'s (a stage-1 run trained on its own)
            "device": prov.get("device") or prov["device_name"], "torch": prov.get("torch") or prov["versions"]["torch"],
            "date_utc": prov["date_utc"],
            "ema_sha256": weights_sha256(run)}


def md_row(name: str, r: dict) -> str:
    return (f"| {name} | {r['steps']} | {r['loss_mean_last5_logged']:.4f} | {r['seconds']} | {r['device']} | "
            f"{r['commit'][:7]} | {r['date_utc']} | `{r['ema_sha256'][:16]}` |")


def join_runs(folder: Path, campaign: Path, claims: Path, root: Path, weights: set[str] | None = None) -> list[str]:
    """-> what was done, a line each. A run counts when its folder holds every file of `RUN_FILES`. A model not in
    `weights` (None: every model) is joined without its weights: its config, metrics, log and the weights' sha256
    (`ema.sha256`), which `train_small.py` counts as done."""
    from train_small import WEIGHTS_SHA

    said = []
    summary_path = campaign / "summary.json"
    summary = json.loads(summary_path.read_text())
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(fileobj=io.BytesIO(_parts(folder))) as tar:  # plain or xz (device_session.sh's): detected
            tar.extractall(tmp, filter="data")
        tmp = Path(tmp)
        for run in sorted((tmp / "runs").glob("*/seed-*")):
            model, seed = run.parent.name, run.name
            name = f"{model}/{seed}"
            if not all((run / f).is_file() for f in RUN_FILES):
                said.append(f"{name}: left out (no weights came back: not in PACK, or unfinished)")
                continue
            config = json.loads((run / "config.json").read_text())
            done, target = config.get("steps_done", 0), config.get("train", {}).get("steps")
            if target is None or done < target:  # stopped by the call's budget: its weights are not the run's
                said.append(f"{name}: left out (unfinished: {done} of {target} steps)")
                continue
            dest = campaign / "runs" / model / seed
            if dest.exists():
                said.append(f"{name}: already in the campaign, left as it is")
                continue
            dest.mkdir(parents=True)
            keep = weights is None or model in weights
            for f in RUN_FILES if keep else [f for f in RUN_FILES if f != "ema.safetensors"]:
                shutil.copy2(run / f, dest / f)
            if not keep:
                (dest / WEIGHTS_SHA).write_text(f"{weights_sha256(run)}  ema.safetensors\n")
            log = tmp / "logs" / f"{model}_{seed}.log"
            if log.is_file():
                (campaign / "logs").mkdir(exist_ok=True)
                shutil.copy2(log, campaign / "logs" / log.name)
            link = claims / f"seed{seed.split('-')[1]}" / model
            if not link.exists() and not link.is_symlink():
                link.parent.mkdir(parents=True, exist_ok=True)
                link.symlink_to(Path("..") / ".." / dest.relative_to(campaign.parent))
            summary["runs"][name] = summary_row(dest, root)
            said.append(f"{name}: joined (sha256 {summary['runs'][name]['ema_sha256'][:16]}"
                        + ("" if keep else "; weights not kept") + ")")
    summary["runs"] = dict(sorted(summary["runs"].items()))
    summary_path.write_text(json.dumps(summary, indent=1) + "\n")
    _rewrite_md(campaign / "summary.md", summary["runs"])
    return said


def _rewrite_md(path: Path, runs: dict) -> None:
    """The table's rows for every run, keeping each existing row's text (earlier sessions' rows stay as written)
    unless the run has been trained again since: a row that does not name the run's weights (sha256) is redrawn."""
    lines = path.read_text().splitlines()
    sep = next(i for i, line in enumerate(lines) if line.startswith("|---"))
    have = {line.split(" | ")[0][2:]: line for line in lines[sep + 1:] if line.startswith("| ")}

    def current(name: str) -> str | None:
        row, sha = have.get(name), runs[name].get("ema_sha256")
        return row if row and (not sha or sha[:16] in row) else None

    rows = [current(name) or md_row(name, runs[name]) for name in sorted(runs, key=lambda n: n.split("/"))]  # ccl before ccl-*
    rest = [line for line in lines[sep + 1:] if not line.startswith("| ")]
    path.write_text("\n".join(lines[:sep + 1] + rows + rest) + "\n")


def join_matrix(folder: Path, root: Path) -> list[str]:
    """Extract `matrix.tar.xz` under `root`, keeping every file already there."""
    archive = folder / "matrix.tar.xz"
    if not archive.is_file():
        return [f"{folder}: no matrix.tar.xz"]
    added = kept = 0
    with tarfile.open(archive) as tar:
        for m in tar.getmembers():
            if not m.isfile():
                continue
            target = root / m.name
            if target.exists():
                kept += 1
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(tar.extractfile(m).read())
            added += 1
    return [f"{archive}: {added} result file(s) added, {kept} already there kept"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", nargs="+", type=Path, help="what device_session.sh calls returned (each a folder)")
    ap.add_argument("--campaign", type=Path, default=ROOT / "checkpoints" / "av-sync" / "campaign")
    ap.add_argument("--claims", type=Path, default=ROOT / "checkpoints" / "av-sync" / "claims")
    ap.add_argument("--root", type=Path, default=ROOT, help="where the matrix's paths (results/claims/matrix/...) start")
    ap.add_argument("--weights", help="models whose weights are kept (comma list; default: every model); the others "
                                      "keep config, metrics, log and the weights' sha256, for runs evaluated on the card")
    args = ap.parse_args(argv)
    weights = set(filter(None, args.weights.split(","))) if args.weights is not None else None
    for folder in args.folders:
        for line in join_runs(folder, args.campaign, args.claims, args.root, weights) + join_matrix(folder, args.root):
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
