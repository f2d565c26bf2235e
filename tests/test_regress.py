"""`ccl-bench regress`: a gate that fails on a broken model, says what it did not look at, and guards
the committed tables' link to the shipped checkpoints."""

import hashlib
import json
import re
import shutil
from pathlib import Path

import pytest

from ccl_bench.cli import main
from ccl_bench.evaluate import evaluate
from ccl_bench.io import read_clip, write_clip
from ccl_bench.regress import regress
from ccl_bench.suites import build_suite, load_suite

ROOT = Path(__file__).resolve().parents[1]
SYNC = ["av-align", "event-sync", "event-hit", "sync-offset"]


def shuffle_audio(src: Path, dst: Path) -> Path:
    """A broken model: each clip of `src` with the next clip's sound (same pictures, same manifest)."""
    dst.mkdir(parents=True)
    manifest = json.loads((src / "manifest.json").read_text())
    clips = [read_clip(src / c["video"]) for c in manifest["clips"]]
    for k, c in enumerate(manifest["clips"]):
        clip = clips[k]
        clip.audio = clips[(k + 1) % len(clips)].audio
        write_clip(clip, dst / c["video"])
    (dst / "manifest.json").write_text(json.dumps(manifest))
    return dst


def table(folder: Path, out: Path, cache: Path) -> None:
    """A `run`-shaped table of `folder`'s clips as model `truth`'s t2av output."""
    res = evaluate(folder, metrics=SYNC, bootstrap=10, cache_dir=cache, show_progress=False)
    t = {"suite": "av-sync", "model": "truth", "tasks": {"t2av": {"metrics": res["metrics"]}},
         "settings": {"rendering": "tiny", "num_samples": 10, "seed": 0}, "provenance": {"checkpoint_sha256": "f" * 64}}
    (out / "av-sync").mkdir(parents=True, exist_ok=True)
    (out / "av-sync" / "truth.json").write_text(json.dumps(t))


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    """Baseline: the suite's own clips (a working model). Current: the same, rerun; and the same clips
    with their audio shuffled across clips (a broken model)."""
    root = tmp_path_factory.mktemp("regress")
    clips = root / "clips"
    build_suite(load_suite("av-sync"), clips, split="test", rendering="tiny", num=10, seed=0, show_progress=False)
    broken = shuffle_audio(clips, root / "broken")
    for name, folder in (("base", clips), ("same", clips), ("broken", broken)):
        table(folder, root / name, root / "cache")
    return root


def test_the_committed_tolerances_fail_a_model_whose_audio_is_shuffled(tables):
    tol = ROOT / "results" / "tolerances.yaml"
    assert regress(tables / "base", tables / "same", tol).ok
    rep = regress(tables / "base", tables / "broken", tol)
    assert not rep.ok
    failed = {re.match(r"av-sync/truth/t2av/([\w-]+):", f).group(1) for f in rep.failures}
    # The event metrics each see the break on their own; sync-offset is declared noise, not compared.
    assert {"event-sync", "event-hit"} <= failed and "sync-offset" not in failed, rep.failures


def test_regress_names_what_it_did_not_regress_and_why(tables, tmp_path, capsys):
    base, cur = tmp_path / "base", tmp_path / "cur"
    for d in (base, cur):
        shutil.copytree(tables / "base", d)
        p = d / "av-sync" / "truth.json"
        t = json.loads(p.read_text())
        t["tasks"]["t2av"]["metrics"]["fvd"] = {"status": "unavailable", "reason": (
            f"weights file i3d_pretrained_400.pt not found: place it at {d}/weights/i3d_pretrained_400.pt (...)")}
        p.write_text(json.dumps(t))
    assert main(["regress", "--baseline", str(base), "--current", str(cur), "--tolerances",
                 str(ROOT / "results" / "tolerances.yaml")]) == 0
    out = capsys.readouterr().out
    summary = out[out.index("regressed "):]
    assert re.search(r"regressed \d+ values against their tolerances; 0 failure", summary)
    line = next(ln for ln in summary.splitlines() if ln.startswith("not regressed: fvd"))
    assert "weights file i3d_pretrained_400.pt" in line and "offline" in line
    line = next(ln for ln in summary.splitlines() if ln.startswith("not regressed: sync-offset"))
    assert "declared noise" in line and "near-equal peaks" in line
    assert "skip av-sync/truth/t2av/event-sync" not in out  # compared, not skipped


def _readme_checksums() -> dict[str, str]:
    """{checkpoint folder: sha256} from the table of `checkpoints/README.md` (name first, checksum last)."""
    text = (ROOT / "checkpoints" / "README.md").read_text()
    return dict(re.findall(r"^\| ([\w-]+) \|(?: [^|]* \|)* ([0-9a-f]{64}) \|$", text, re.M))


def test_every_committed_table_names_the_checkpoint_the_readme_lists():
    listed = _readme_checksums()
    root = ROOT / "checkpoints" / "av-sync"
    shipped = sorted(p.name for p in root.iterdir() if (p / "ema.safetensors").is_file())
    assert sorted(listed) == shipped and "ccl" in shipped
    for m in shipped:  # the README lists the files that are there
        assert hashlib.sha256((root / m / "ema.safetensors").read_bytes()).hexdigest() == listed[m]
    tables = [json.loads(p.read_text()) for p in sorted((ROOT / "results" / "av-sync").glob("*.json"))]
    runs = [r for r in tables if "tasks" in r]
    pseudo = {r["model"] for r in runs if r["provenance"].get("pseudo_model")}
    assert pseudo == {"ceiling", "floor"}  # every table is framed by both
    # Every shipped model has a table of exactly its weights (the stage-1 streams are no T2AV model): the CPU
    # tables `tox -e regress` checks (four models), or its on-card evaluations in the claims matrix its run belongs to.
    cpu = {r["model"] for r in runs} - pseudo
    assert cpu <= set(shipped) and {"ccl", "gated", "none"} <= cpu
    for r in runs:
        if r["model"] not in pseudo:
            assert r["provenance"]["checkpoint_sha256"] == listed[r["model"]], r["model"]
    for m in set(shipped) - cpu - {"streams"}:
        card = sorted((ROOT / "results" / "claims" / "matrix-v4" / "seed0").glob(f"*/av-sync/{m}.json"))
        assert card, f"{m}: no committed table"
        assert all(json.loads(c.read_text())["provenance"]["checkpoint_sha256"] == listed[m] for c in card), m


def test_the_committed_results_folder_passes_the_gate_against_itself():
    """CI regresses a fresh run against `results/`, which also keeps calibration, claims and compute
    records: those are no run tables and must not read as broken ones."""
    rep = regress(ROOT / "results", ROOT / "results", ROOT / "results" / "tolerances.yaml")
    assert rep.failures == [] and rep.ok
    assert "av-sync/ccl/t2av/event-hit" in rep.checked


def test_a_run_table_missing_its_model_or_tasks_is_named(tmp_path):
    for name, record in (("a", {"suite": "av-sync", "model": "a"}), ("b", {"suite": "av-sync", "tasks": {}})):
        (tmp_path / "av-sync").mkdir(exist_ok=True)
        (tmp_path / "av-sync" / f"{name}.json").write_text(json.dumps(record))
    rep = regress(tmp_path, tmp_path, ROOT / "results" / "tolerances.yaml")
    assert any("a.json: a run table without tasks" in f for f in rep.failures)
    assert any("b.json: a run table without model" in f for f in rep.failures)
