"""The main job (`ccl-bench run`), `compare` and `regress`, on CPU with the shipped checkpoints."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ccl_bench.cli import main
from ccl_bench.compare import compare, load_entries
from ccl_bench.metrics import METRICS
from ccl_bench.regress import regress

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two quick runs (4 prompts, 2 steps) of shipped models, offline (no metric weights)."""
    out = tmp_path_factory.mktemp("runs")
    mp = pytest.MonkeyPatch()
    mp.setenv("CCL_BENCH_HOME", str(out / "home"))
    code = main(["run", "--model", "ccl,gated", "--suite", "av-sync", "--num-samples", "4", "--steps", "2",
                 "--bootstrap", "20", "--out", str(out), "--quiet"])
    mp.undo()
    assert code == 0
    return out


def test_run_writes_a_table_with_every_suite_metric(runs):
    res = json.loads((runs / "av-sync" / "ccl.json").read_text())
    t = res["tasks"]["t2av"]
    base = {"fvd", "kvd", "fad", "av-align", "event-sync", "event-hit", "sync-offset"}
    cc = {"av-align-cc", "event-sync-cc", "event-hit-cc", "sync-offset-cc"}  # each sync metric's chance-corrected twin
    native = {"avsync-fvd", "avsync-fad", "prompt-accuracy-video", "prompt-accuracy-audio"}  # shipped weights: offline
    assert set(t["metrics"]) == base | cc | native
    for name, m in t["metrics"].items():
        assert ("value" in m and np.isfinite(m["value"])) or ("weights file" in m["reason"]) or (
            name == "sync-offset" and m["reason"].startswith("no synchrony found")), name
    g = t["generation"]
    assert g["clips"] == 4 and g["passes_per_step"] == 2 and g["nfe_per_clip"] == 4 and g["clips_per_s"] > 0
    assert res["provenance"]["checkpoint_sha256"] and res["settings"]["guidance"] == "ucg"
    assert (runs / "av-sync" / t["clips"] / "per_clip.npz").is_file()
    assert all("value" in t["metrics"][n] for n in native)
    main_table, families = (runs / "av-sync" / "ccl.md").read_text().split("Per scene family")
    assert main_table.count("| t2av |") == 15 and "| t2av | event-hit |" in families


def test_a_task_added_to_a_table_keeps_the_other_tasks_of_the_same_checkpoint(runs, tmp_path, monkeypatch):
    out = tmp_path / "runs"
    shutil.copytree(runs / "av-sync", out / "av-sync", ignore=shutil.ignore_patterns("*.mp4", "*.mkv", "*.wav"))
    monkeypatch.setenv("CCL_BENCH_HOME", str(tmp_path / "home"))
    before = json.loads((out / "av-sync" / "ccl.json").read_text())
    args = ["run", "--model", "ccl", "--suite", "av-sync", "--num-samples", "4", "--bootstrap", "20", "--out", str(out),
            "--quiet", "--task", "a2v"]
    assert main([*args, "--steps", "2"]) == 0
    after = json.loads((out / "av-sync" / "ccl.json").read_text())
    assert set(after["tasks"]) == {"t2av", "a2v"}
    assert after["tasks"]["t2av"]["metrics"] == before["tasks"]["t2av"]["metrics"]
    assert after["tasks"]["t2av"]["provenance"] == before["provenance"]  # measured then, by that run
    assert "provenance" not in after["tasks"]["a2v"]
    assert "| t2av |" in (out / "av-sync" / "ccl.md").read_text()
    # Other settings make another table: the earlier tasks are not kept beside it.
    assert main([*args, "--steps", "1"]) == 0
    assert set(json.loads((out / "av-sync" / "ccl.json").read_text())["tasks"]) == {"a2v"}


def test_guidance_scales_are_applied_recorded_and_regressed(runs, tmp_path, monkeypatch):
    from ccl_bench.io import read_clip

    monkeypatch.setenv("CCL_BENCH_HOME", str(tmp_path / "home"))
    out = tmp_path / "scaled"
    assert main(["run", "--model", "ccl", "--suite", "av-sync", "--num-samples", "2", "--steps", "2", "--scales",
                 "text=1,audio_modality=3", "--bootstrap", "0", "--out", str(out), "--quiet"]) == 0
    res = json.loads((out / "av-sync" / "ccl.json").read_text())
    assert res["settings"]["scales"] == "text=1,audio_modality=3"  # the fields changed, in GuidanceScales' order
    assert "scales" not in json.loads((runs / "av-sync" / "ccl.json").read_text())["settings"]  # defaults: not recorded
    manifest = json.loads((out / "av-sync" / "clips" / "ccl" / "t2av" / "manifest.json").read_text())
    assert manifest["scales"]["text"] == 1.0 and manifest["scales"]["modality"] == 2.0
    clip = "clips/ccl/t2av/test-00000.mkv"  # the same prompt and noise as the default-scales run: another picture
    assert not np.array_equal(read_clip(out / "av-sync" / clip).video, read_clip(runs / "av-sync" / clip).video)
    base, cur = _copy(runs, tmp_path)
    table = json.loads((cur / "av-sync" / "ccl.json").read_text())
    (cur / "av-sync" / "ccl.json").write_text(json.dumps({**table, "settings": res["settings"]}))
    assert any("setting scales differs" in f for f in regress(base, cur).failures)


@pytest.mark.parametrize("scales,fault", [("txt=2", "'txt=2' is not FIELD=NUMBER"), ("text=big", "text='big' is not a number"),
                                          ("text=nan", "is not finite")])
def test_bad_scales_are_refused_in_one_line(scales, fault, capsys, tmp_path):
    assert main(["run", "--model", "ccl", "--scales", scales, "--out", str(tmp_path), "--quiet"]) == 2
    assert fault in capsys.readouterr().err


def test_a_pseudo_model_takes_no_scales(capsys, tmp_path):
    assert main(["run", "--model", "floor", "--scales", "text=2", "--out", str(tmp_path), "--quiet"]) == 2
    assert "floor is a pseudo-model" in capsys.readouterr().err


def test_a_model_without_checkpoint_names_the_command_that_trains_one(capsys, tmp_path):
    assert main(["run", "--model", "ccl", "--set", "lct_tokens=32", "--out", str(tmp_path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "ccl-bench train --model ccl --suite av-sync" in err and "--set lct_tokens=32" in err


def test_compare_prints_deltas_with_paired_significance_and_plots(runs, tmp_path, capsys):
    md, png = tmp_path / "cmp.md", tmp_path / "cmp.png"
    code = main(["compare", str(runs / "av-sync" / "ccl.json"), str(runs / "av-sync" / "gated.json"), "--bootstrap", "50",
                 "--md", str(md), "--plot", str(png)])
    assert code == 0
    out = capsys.readouterr().out
    assert "deltas vs ccl" in out and "gated" in out
    table = compare(load_entries([str(runs / "av-sync" / "ccl.json"), str(runs / "av-sync" / "gated.json")]), bootstrap=50)
    lines = md.read_text().splitlines()
    for metric, row in table["tasks"]["t2av"]["metrics"].items():
        line = next(ln for ln in lines if ln.startswith(f"| t2av | {metric} ("))
        if row["values"][1] is None:
            assert line.endswith("| unavailable |"), line
            continue
        if row["paired"] is None or row["paired"][1] is None:
            assert "n/a" in line, line
            continue
        assert f"({row['deltas'][1]:+.3g}, {verdict(row, 1)}, " in line, (line, row["paired"][1])
    assert table["tasks"]["t2av"]["metrics"]["event-sync"]["paired"][1]["bootstrap"]["used"] >= 25
    meta = json.loads(Image.open(png).text["provenance"])  # the picture says what made it
    assert meta["command"].startswith("ccl-bench compare ") and meta["seed"] == 0


def verdict(row: dict, k: int) -> str:
    """What the paired interval says, independently of the renderer: 0 inside -> not significant."""
    lo, hi = row["paired"][k]["ci95"]
    if lo <= 0 <= hi:
        return "not significant"
    worse = lo > 0 if row["better"] in ("lower", "zero") else hi < 0
    return "significantly " + ("worse" if worse else "better")


def test_a_run_compared_with_itself_differs_by_nothing(runs):
    p = str(runs / "av-sync" / "ccl.json")
    table = compare(load_entries([p, p]), bootstrap=20)
    for metric, row in table["tasks"]["t2av"]["metrics"].items():
        if row["values"][0] is not None:
            assert row["deltas"][1] == 0, metric
        if row["paired"] is not None and row["paired"][1] is not None:
            assert row["paired"][1]["ci95"] == [0.0, 0.0] and not row["paired"][1]["significant"], metric


def test_compare_over_the_committed_tables_of_the_shipped_models(tmp_path, capsys):
    png = tmp_path / "shipped.png"
    code = main(["compare", "ccl", "gated", "none", "ccl-no-tarp", "--results", str(ROOT / "results"), "--bootstrap", "30",
                 "--plot", str(png)])
    assert code == 0 and png.is_file()
    md = tmp_path / "shipped.md"
    assert main(["compare", "ccl", "gated", "--results", str(ROOT / "results"), "--bootstrap", "30", "--md", str(md)]) == 0
    line = next(ln for ln in md.read_text().splitlines() if ln.startswith("| t2av | event-sync ("))
    row = compare(load_entries(["ccl", "gated"], ROOT / "results"), bootstrap=30)["tasks"]["t2av"]["metrics"]["event-sync"]
    assert row["paired"][1] is not None  # paired over the committed per-clip results
    assert f"({row['deltas'][1]:+.3g}, {verdict(row, 1)}, " in line, line


def _copy(runs, tmp_path):
    base, cur = tmp_path / "base", tmp_path / "cur"
    for d in (base, cur):
        shutil.copytree(runs / "av-sync", d / "av-sync", ignore=shutil.ignore_patterns("clips"))
    (base / "tolerances.yaml").write_text((ROOT / "results" / "tolerances.yaml").read_text())
    return base, cur


def test_regress_passes_on_identical_tables(runs, tmp_path):
    base, cur = _copy(runs, tmp_path)
    assert regress(base, cur).ok


def test_regress_fails_with_a_clear_diff_on_a_changed_value_or_checkpoint(runs, tmp_path, capsys):
    base, cur = _copy(runs, tmp_path)
    p = cur / "av-sync" / "ccl.json"
    r = json.loads(p.read_text())
    r["tasks"]["t2av"]["metrics"]["event-sync"]["value"] += 100.0  # a model got worse
    r["provenance"]["checkpoint_sha256"] = "0" * 64
    p.write_text(json.dumps(r))
    assert main(["regress", "--baseline", str(base), "--current", str(cur)]) == 1
    out = capsys.readouterr().out
    assert "FAIL av-sync/ccl/t2av/event-sync: baseline" in out and "(diff +100" in out
    assert "checkpoint changed" in out


def test_regress_fails_on_a_corrupted_or_missing_table(runs, tmp_path):
    base, cur = _copy(runs, tmp_path)
    (cur / "av-sync" / "gated.json").write_text('{"suite": "av-sync", "tasks": {"t2av": ')  # cut short
    rep = regress(base, cur)
    assert not rep.ok
    assert any("gated.json: not valid JSON" in f for f in rep.failures)
    assert any("av-sync/gated: in the baseline but not in" in f for f in rep.failures)


def test_committed_tables_exist_for_every_shipped_model():
    root = ROOT / "checkpoints" / "av-sync"
    shipped = sorted(p.name for p in root.iterdir() if (p / "ema.safetensors").is_file() and p.name != "streams")
    assert {"ccl", "gated", "none"} <= set(shipped)
    # Every shipped model has a committed T2AV evaluation: the CPU tables that `tox -e regress` checks (four models),
    # or, for the others, its on-card evaluation in the claims matrix its run belongs to.
    for m in shipped:
        cpu = ROOT / "results" / "av-sync" / f"{m}.json"
        card = ROOT / "results" / "claims" / "matrix-v4" / "seed0"
        found = [cpu] if cpu.is_file() else sorted(card.glob(f"*/av-sync/{m}.json"))
        assert found, m
        r = json.loads(found[0].read_text())
        assert r["model"] == m and set(r["tasks"]["t2av"]["metrics"]) <= set(METRICS)
    # The claims campaign commits every stage-2 run (bf16 EMA, config, log): small weights, no training state.
    files = [f for f in (ROOT / "checkpoints").rglob("*") if f.is_file()]
    # 1.7-6.3 MB each on the 128-wide streams; the 256-wide stage-1 video streams of campaign-v3 and v4 (14 MB),
    # the seed-0 models of campaign-v3 (four) and campaign-v4's seed-0 models, the shipped ones (16-18.3 MB; v4's
    # seeds 1-2 keep only their sha256) are the only larger ones (checkpoints/README.md, "Size")
    v3, v4 = "checkpoints/av-sync/campaign-v3/runs/", "checkpoints/av-sync/campaign-v4/runs/"
    allowed = {f"checkpoints/av-sync/campaign-v{k}/runs/streams-video/ema.safetensors" for k in (3, 4)}
    allowed |= {f"{v3}{m}/seed-0/ema.safetensors" for m in ("ccl", "ccl-no-tarp", "gated", "none")}
    allowed |= {f"{v4}{m}/seed-0/ema.safetensors" for m in shipped}
    big = {f.relative_to(ROOT).as_posix() for f in files if f.suffix == ".safetensors" and f.stat().st_size >= 8_000_000}
    assert big <= allowed
    assert all(f.stat().st_size < 19_000_000 for f in files)
    assert not [f for f in files if f.name in ("checkpoint.pt", "state.safetensors")]
    # the weights of the campaign, campaign-v2 (seed 0), campaign-v3 (stage 1 and seed 0 of four models),
    # campaign-v4 (stage 1 and seed 0 of every shipped model), the ablations and the streams; stored bytes:
    # a symlinked file (campaign run -> shipped model) counts once: 743 MB with the fifteen shipped models
    assert sum(f.stat().st_size for f in {f.resolve() for f in files}) < 760_000_000
