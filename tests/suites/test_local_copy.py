"""Benchmark suites read from a local copy (`suites.local_copy`, `evaluate.evaluate_suite`): a few synthetic
prompts in each publisher's layout, generated clips named as each benchmark's scripts name them, the aggregation
(per-category breakdown; Verse-Bench's mean of subset means against a hand computation), and the one-line error
of a missing or malformed copy."""

import csv
import json

import numpy as np
import pytest

from ccl_bench import evaluate as E
from ccl_bench.cli import main
from ccl_bench.io import AVClip, write_clip
from ccl_bench.metrics import METRICS
from ccl_bench.schema import validate_result
from ccl_bench.suites import list_suites, load_any_suite, load_benchmark, load_suite, read_local_copy
from tests.conftest import event_clip

BENCHMARKS = ("verse-bench", "javisbench", "javisbench-mini", "t2av-compass")
# Metrics Step 12 adds under these names (issue 16): a suite may list them before they are built.
STEP12 = {"ib-av", "ib-tv", "ib-ta", "clip-score", "clap-score", "fad-clap", "fd-panns", "fd-passt", "sync-c", "sync-d",
          "wer", "javisscore"}


def lagged(lag: float, t_event: float = 0.6) -> AVClip:
    """A 2 s clip with one flash at `t_event` and its beep `lag` seconds later."""
    c = event_clip(t_event=t_event, size=32)
    audio = np.roll(c.audio, round(lag * c.sample_rate), axis=1)
    return AVClip(c.video, c.fps, audio, c.sample_rate)


def write_pred(folder, stem: str, lag: float, sidecar: bool = True):
    folder.mkdir(parents=True, exist_ok=True)
    write_clip(lagged(lag), folder / f"{stem}.mp4", sidecar="wav" if sidecar else None)


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("CCL_BENCH_HOME", str(tmp_path / "home"))
    for spec in BENCHMARKS:
        for var in load_benchmark(spec).env:
            monkeypatch.delenv(var, raising=False)
    return tmp_path / "home"


def run_suite(suite, pred, root, tmp_path, metrics=None, bootstrap=50):
    return E.evaluate_suite(suite, pred, root, metrics=metrics, weights_dir=tmp_path / "no-weights",
                            cache_dir=tmp_path / "cache", bootstrap=bootstrap, show_progress=False)


# -- the specs ---------------------------------------------------------------------------------------------------------

def test_each_benchmark_is_a_registered_suite_whose_metrics_are_built_or_named_as_not_yet():
    assert set(BENCHMARKS) <= set(list_suites())
    for name in BENCHMARKS:
        spec = load_benchmark(name)
        assert spec.metrics and spec.aspects and spec.env and spec.expected
        for m in spec.metrics:  # a typo would otherwise read as "not built yet"
            assert m.name in METRICS or m.name in STEP12 or m.planned, (name, m.name)
    assert load_benchmark("verse-bench").headline == "mean-of-category-means"
    mini = load_benchmark("javisbench-mini")  # extends javisbench: its own files, javisbench's taxonomy
    assert mini.files["prompts"] == "JavisBench-mini.csv" and mini.aspects == load_benchmark("javisbench").aspects
    with pytest.raises(Exception, match="local copy"):
        load_suite("javisbench")  # rendered-suite commands refuse a benchmark, saying what to run
    assert type(load_any_suite("av-sync")).__name__ == "SuiteSpec"


# -- Verse-Bench: set<k>/<id>.json + <id>.jpg (+ set2 <id>.wav) ---------------------------------------------------------

VERSE = {"set1": ["11", "12"], "set2": ["21", "22", "23"], "set3": ["31", "32", "33", "34"]}
LAG = {"set1": 0.0, "set2": 0.1, "set3": 0.4}  # s: each subset's clips share one audio lag


def verse_copy(root):
    for s, ids in VERSE.items():
        (root / s).mkdir(parents=True)
        for i in ids:
            speech = {"speaker": "Man", "text": "hello there" if s == "set3" else ""}
            rec = {"video_prompt": f"a flash in {s}", "audio_prompt": ["a beep"], "speech_prompt": speech}
            (root / s / f"{i}.json").write_text(json.dumps(rec))
            (root / s / f"{i}.jpg").write_bytes(b"\xff\xd8\xff\xd9")
            if s == "set2":
                (root / s / f"{i}.wav").write_bytes(b"RIFF")
    return root


def test_verse_bench_headline_is_the_mean_of_subset_means(home, tmp_path):
    root = verse_copy(tmp_path / "verse_bench")
    pred = tmp_path / "pred"
    per_set = {}
    for s, ids in VERSE.items():
        for i in ids:
            write_pred(pred, i, LAG[s])
            write_pred(tmp_path / f"only-{s}", i, LAG[s])  # the same clips, one folder per subset: the hand computation
        per_set[s] = E.evaluate(tmp_path / f"only-{s}", metrics=["event-sync"], cache_dir=tmp_path / "cache",
                                bootstrap=0, show_progress=False)["metrics"]["event-sync"]["value"]
    out = tmp_path / "res.json"
    code = main(["eval", "--suite", "verse-bench", "--pred", str(pred), "--bench-root", str(root), "--metrics",
                 "event-sync,wer@clip-mean,audiobox-ce", "--out", str(out), "--quiet", "--bootstrap", "50",
                 "--cache-dir", str(tmp_path / "cache"), "--weights-dir", str(tmp_path / "no-weights")])
    assert code == 0
    res = json.loads(out.read_text())
    m = res["metrics"]["event-sync"]
    assert len(set(np.round(list(per_set.values()), 3))) == 3  # the subsets differ, so the rule matters
    assert m["value"] == pytest.approx(np.mean(list(per_set.values())))  # (s1 + s2 + s3) / 3, not pooled over 9 clips
    assert m["rule"] == "mean of category means" and m["categories_used"] == ["set1", "set2", "set3"]
    assert m["pooled"]["n"] == 9 and m["pooled"]["value"] != pytest.approx(m["value"])
    for s in VERSE:
        assert m["per_category"]["subset"][s]["value"] == pytest.approx(per_set[s])
        assert m["per_category"]["subset"][s]["n"] == len(VERSE[s])
    lo, hi = m["ci95"]
    assert lo <= m["value"] <= hi
    assert res["metrics"]["audiobox-ce"]["status"] == "unavailable" and "not built" in res["metrics"]["audiobox-ce"]["reason"]
    assert res["suite"]["headline"] == "mean-of-category-means" and "mean of category means" in res["suite"]["protocol"]
    md = out.with_suffix(".md").read_text()
    assert "Per subset: value" in md and "| set1 | set2 | set3 |" in md and "Headline: the mean of category means" in md
    assert validate_result(res) == []
    broken = json.loads(json.dumps(res))
    broken["metrics"]["event-sync"]["per_category"]["subset"]["set2"]["value"] = -999  # the schema sees into the breakdown
    assert validate_result(broken)
    rows = list(csv.DictReader(out.with_suffix(".csv").open()))
    assert {r["family"] for r in rows if r["metric"] == "event-sync"} == {"all", "subset: set1", "subset: set2", "subset: set3"}


def test_a_benchmark_eval_with_no_metric_ccl_bench_has_still_accounts_for_the_clips(home, tmp_path):
    root = verse_copy(tmp_path / "verse_bench")
    pred = tmp_path / "pred"
    write_pred(pred, "11", 0.0)
    res = run_suite("verse-bench", pred, root, tmp_path, metrics=["audiobox-ce", "id-consistency"])
    assert [m["status"] for m in res["metrics"].values()] == ["unavailable"] * 2
    assert res["clips"]["pred"]["clips"] == 9 and len(res["clips"]["pred"]["missing"]) == 8
    assert {"device", "decoder", "bootstrap", "fvd_protocol"} <= set(res["provenance"]) and validate_result(res) == []


def test_verse_bench_text_rules_follow_the_publisher_and_a_spec_metric_is_never_dropped(home, tmp_path):
    root = verse_copy(tmp_path / "verse_bench")
    items = {it.id: it for it in read_local_copy(load_benchmark("verse-bench"), root)[1]}
    assert items["31"].text["transcript"] == "hello there" and "transcript" not in items["11"].text
    assert items["21"].reference["audio"].name == "21.wav" and "audio" not in items["11"].reference
    assert items["11"].categories == {"subset": ("set1",)}
    pred = tmp_path / "pred"
    for s, ids in VERSE.items():
        for i in ids:
            write_pred(pred, i, LAG[s])
    res = run_suite("verse-bench", pred, root, tmp_path, bootstrap=0)
    spec = load_benchmark("verse-bench")
    assert list(res["metrics"]) == [m.name for m in spec.metrics]  # every listed number is there
    for name, m in res["metrics"].items():
        assert m["status"] == "unavailable" and m["reason"] and m["benchmark"] == spec.metric(name).benchmark
    assert "real sounds" in res["metrics"]["fad-clap"]["reason"] or "not built" in res["metrics"]["fad-clap"]["reason"]
    assert "-999" not in json.dumps(res["metrics"]) and all("value" not in m for m in res["metrics"].values())
    assert validate_result(res) == []


# -- JavisBench: JavisBench.csv (text, audio_text, cat<k>_ind), clips sample_{row:04d}.mp4 + .wav ---------------------------

JAVIS_ROWS = [  # cat0_ind: Event Scenario (0 natural, 1 urban); a prompt may sit in two categories
    {"text": "waves on\nrocks", "audio_text": "waves", "cat0_ind": "0", "cat2_ind": "0"},  # a quoted newline
    {"text": "a street with a bell", "audio_text": "a bell", "cat0_ind": "0,1", "cat2_ind": "2"},
    {"text": "a tram passing", "audio_text": "", "cat0_ind": "1", "cat2_ind": "2.0"},
    {"text": "a missing clip", "audio_text": "", "cat0_ind": "1", "cat2_ind": ""},
]


def javis_copy(root, name="JavisBench.csv"):
    root.mkdir(parents=True, exist_ok=True)
    cols = ["path", "text", "audio_text"] + [f"cat{k}_ind" for k in range(5)]
    with (root / name).open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        for i, r in enumerate(JAVIS_ROWS):
            w.writerow({"path": f"/their/disk/{i}.mp4", **r})
    return root


def test_javisbench_reads_the_csv_layout_and_breaks_every_metric_down_by_category(home, tmp_path):
    root = javis_copy(tmp_path / "JavisBench")
    pred = tmp_path / "samples"
    for i, lag in enumerate((0.0, 0.3, 0.1)):  # row 3 has no clip
        write_pred(pred, f"sample_{i:04d}", lag)
    res = run_suite("javisbench", pred, root, tmp_path, metrics=["event-sync", "av-align", "fvd", "cavp-score"])
    m = res["metrics"]["event-sync"]
    assert m["n"] == 3 and "benchmark" not in m  # event-sync is not on JavisBench's list, asked for by name
    scen = m["per_category"]["Event Scenario"]
    assert {k: v["n"] for k, v in scen.items()} == {"Natural Scenario": 2, "Urban Scenario": 2}  # row 1 in both
    assert set(m["per_category"]["Sound Type"]) == {"Ambient sounds", "Mechanical sounds"}  # "2.0" as pandas writes it
    urban = tmp_path / "urban"  # the hand computation: the urban clips alone
    for i, lag in ((1, 0.3), (2, 0.1)):
        write_pred(urban, f"sample_{i:04d}", lag)
    alone = E.evaluate(urban, metrics=["event-sync"], cache_dir=tmp_path / "cache", bootstrap=0, show_progress=False)
    assert scen["Urban Scenario"]["value"] == pytest.approx(alone["metrics"]["event-sync"]["value"])
    assert res["metrics"]["av-align"]["benchmark"] == "av_align" and "per_category" in res["metrics"]["av-align"]
    assert "cache/fvd_fad/JavisBench-vanilla-max4s.pt" in res["metrics"]["fvd"]["reason"]
    assert "not built" in res["metrics"]["cavp-score"]["reason"]
    missing = res["clips"]["pred"]["missing"]
    assert [x["path"].rsplit("/", 1)[-1] for x in missing] == ["sample_0003.mp4"] and res["clips"]["pred"]["clips"] == 4
    assert res["suite"]["prompts"] == 4 and res["suite"]["headline"] == "pooled"
    assert validate_result(res) == []


def test_javisbench_mini_reads_its_own_table_from_the_same_copy(home, tmp_path, monkeypatch):
    root = javis_copy(tmp_path / "JavisBench", name="JavisBench-mini.csv")
    monkeypatch.setenv("CCL_BENCH_JAVISBENCH", str(root))  # the shared download's variable is enough
    spec = load_benchmark("javisbench-mini")
    got, items = read_local_copy(spec)
    assert got == root and [it.id for it in items] == [f"sample_{i:04d}" for i in range(4)]
    assert items[1].categories["Event Scenario"] == ("Natural Scenario", "Urban Scenario")
    assert items[0].text["audio_caption"] == "waves" and items[2].text["audio_caption"] == "a tram passing"
    assert items[0].text["caption"] == "waves on rocks"


# -- T2AV-Compass: t2av-compass/Data/prompts.json, clips sample_{index:04d} or the aliases its scripts accept --------------

def t2av_copy(root):
    recs = [{"index": k, "prompt": f"scene {k}", "video_prompt": f"video {k}", "audio_prompt": f"audio {k}",
             "speech_prompt": [{"speaker": "A", "description": "", "text": "hi"}] if k != 2 else [],
             "subject_matter": "Animation" if k == 1 else "Real", "sound_type": ["Speech Sounds", "Ambient Sounds"][: k]}
            for k in (1, 2, 3)]
    (root / "t2av-compass" / "Data").mkdir(parents=True)
    (root / "t2av-compass" / "Data" / "prompts.json").write_text(json.dumps(recs))
    return root


def test_t2av_compass_matches_its_clip_names_and_applies_a_text_rule(home, tmp_path, monkeypatch):
    root = t2av_copy(tmp_path / "T2AV-Compass")
    pred = tmp_path / "input"
    for stem, lag in (("1", 0.0), ("sample_0002", 0.2), ("video_0003", 0.1)):
        write_pred(pred, stem, lag, sidecar=False)  # sound in the mp4, as T2AV-Compass reads it
    res = run_suite("t2av-compass", pred, root, tmp_path, metrics=["event-sync"])
    m = res["metrics"]["event-sync"]
    assert m["n"] == 3 and not res["clips"]["pred"]["missing"]
    assert {k: v["n"] for k, v in m["per_category"]["sound type"].items()} == {"Speech Sounds": 3, "Ambient Sounds": 2}
    assert set(m["per_category"]["subject matter"]) == {"Animation", "Real"}
    # A suite of one's own: t2av-compass with a metric admitted only where the prompt has speech.
    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "t2av-speech.yaml").write_text(
        "name: t2av-speech\nkind: benchmark\nextends: t2av-compass\n"
        "metrics:\n  - {name: event-sync, benchmark: sync, when: transcript}\n")
    monkeypatch.setenv("CCL_BENCH_SUITES", str(tmp_path / "suites"))
    speech = run_suite("t2av-speech", pred, root, tmp_path)["metrics"]["event-sync"]
    assert speech["n"] == 2 and "transcript" in speech["prompts"]  # record 2 has no speech line
    # A metric that reads the audio prompt as its caption (T2AV-Compass's T-A): the clips it is given say so.
    (tmp_path / "suites" / "t2av-speech.yaml").write_text(
        "name: t2av-speech\nkind: benchmark\nextends: t2av-compass\n"
        "metrics:\n  - {name: event-sync, benchmark: sync, caption: audio_caption}\n  - {name: event-hit, benchmark: hit}\n")
    given = {}
    real = E.evaluate

    def spy(pred, *a, **kw):
        given[tuple(kw["metrics"])] = {c.id: c.text.get("caption") for c in pred.items}
        return real(pred, *a, **kw)

    monkeypatch.setattr(E, "evaluate", spy)
    res = run_suite("t2av-speech", pred, root, tmp_path)
    assert given[("event-sync",)] == {f"sample_000{k}": f"audio {k}" for k in (1, 2, 3)}
    assert given[("event-hit",)] == {f"sample_000{k}": f"scene {k}" for k in (1, 2, 3)}
    assert res["metrics"]["event-sync"]["caption_from"] == "audio_caption" and "caption_from" not in res["metrics"]["event-hit"]


# -- a missing or malformed copy: one line naming the benchmark, the path tried and the layout ----------------------------

def one_error_line(capsys) -> str:
    lines = [x for x in capsys.readouterr().err.splitlines() if x.strip()]
    assert len(lines) == 1, lines
    return lines[0]


def test_a_missing_local_copy_is_one_line_naming_the_layout(home, tmp_path, capsys, monkeypatch):
    pred = tmp_path / "pred"
    write_pred(pred, "sample_0000", 0.0)
    args = ["eval", "--suite", "javisbench", "--pred", str(pred), "--quiet"]
    assert main(args) == 2
    line = one_error_line(capsys)
    assert "javisbench" in line and "$CCL_BENCH_JAVISBENCH" in line and "JavisBench.csv" in line and "cat0_ind" in line
    assert main([*args, "--bench-root", str(tmp_path / "nowhere")]) == 2
    line = one_error_line(capsys)
    assert str(tmp_path / "nowhere") in line and "JavisBench.csv" in line
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("CCL_BENCH_JAVISBENCH", str(tmp_path / "empty"))
    assert main(args) == 2
    line = one_error_line(capsys)
    assert str(tmp_path / "empty") in line and "lacks JavisBench.csv" in line
    verse = verse_copy(tmp_path / "verse")
    (verse / "set3" / "31.json").unlink()
    for f in (verse / "set3").iterdir():
        f.unlink()
    (verse / "set3").rmdir()
    assert main(["eval", "--suite", "verse-bench", "--pred", str(pred), "--bench-root", str(verse), "--quiet"]) == 2
    line = one_error_line(capsys)
    assert "verse-bench" in line and "lacks set3/" in line and "<id>.json" in line
    (tmp_path / "t2av").mkdir()
    assert main(["eval", "--suite", "t2av-compass", "--pred", str(pred), "--bench-root", str(tmp_path / "t2av")]) == 2
    assert "t2av-compass/Data/prompts.json" in one_error_line(capsys)


def test_a_malformed_prompt_file_names_the_file_and_the_fault(home, tmp_path):
    verse = verse_copy(tmp_path / "verse")
    (verse / "set2" / "22.json").write_text(json.dumps({"audio_prompt": ["x"]}))
    with pytest.raises(Exception, match=r"set2/22\.json: no video_prompt"):
        read_local_copy(load_benchmark("verse-bench"), verse)
    root = javis_copy(tmp_path / "JavisBench")
    text = (root / "JavisBench.csv").read_text().replace("0,1", "0,7")
    (root / "JavisBench.csv").write_text(text)
    with pytest.raises(Exception, match=r"JavisBench\.csv: line 3: cat0_ind 7 is out of range"):
        read_local_copy(load_benchmark("javisbench"), root)


def test_javisbench_fvd_compares_each_clip_set_with_the_shipped_features_of_the_same_rows(home, tmp_path, monkeypatch):
    import torch

    from ccl_bench.features import I3DFeatures

    # A stand-in for I3D (its weights and forward pass are tested in tests/features): 400 numbers of the preprocessed
    # clip, so each clip has its own row; what is tested here is which reference rows each clip set meets.
    def load(self):
        self._model, self._sha = "stand-in", "0" * 64
        self.protocol = {**self.preset.to_dict(), "weights_sha256": self._sha}

    monkeypatch.setattr(I3DFeatures, "load", load)
    monkeypatch.setattr(I3DFeatures, "compute_batch", lambda self, xs: np.stack([x.double().reshape(-1)[::997][:400].numpy()
                                                                                   for x in xs]))
    root = javis_copy(tmp_path / "JavisBench")
    rows = torch.from_numpy(np.random.default_rng(0).normal(size=(len(JAVIS_ROWS), 400)))
    (root / "cache" / "fvd_fad").mkdir(parents=True)
    torch.save({"video": rows, "audio": torch.zeros(len(JAVIS_ROWS), 1024)}, root / "cache/fvd_fad/JavisBench-vanilla-max4s.pt")
    flash = {0: 0.3, 2: 0.9, 3: 1.4}  # s: each clip its own picture

    def clips(ids, folder):
        for i in ids:
            folder.mkdir(parents=True, exist_ok=True)
            write_clip(lagged(0.0, flash[i]), folder / f"sample_{i:04d}.mp4", sidecar="wav")
        return folder

    pred = clips([0, 2, 3], tmp_path / "samples")  # row 1 has no clip: its features row is not compared
    res = E.evaluate_suite("javisbench", pred, root, metrics=["fvd"], cache_dir=tmp_path / "cache", bootstrap=10,
                           show_progress=False)
    fvd = res["metrics"]["fvd"]

    def alone(ids, name):  # the hand computation: those clips against a file of their own rows only (eval --ref FILE)
        torch.save({"video": rows[list(ids)]}, tmp_path / f"{name}.pt")
        return E.evaluate(clips(ids, tmp_path / name), tmp_path / f"{name}.pt", metrics=["fvd"], protocol="javisbench",
                          cache_dir=tmp_path / "cache", bootstrap=0, show_progress=False)["metrics"]["fvd"]

    assert fvd["value"] == pytest.approx(alone([0, 2, 3], "all3")["value"]) and fvd["n_ref"] == 3
    urban = fvd["per_category"]["Event Scenario"]["Urban Scenario"]  # clips 2 and 3, against rows 2 and 3
    assert urban["value"] == pytest.approx(alone([2, 3], "urban")["value"]) and urban["n_ref"] == 2
    assert fvd["per_category"]["Event Scenario"]["Natural Scenario"]["status"] == "unavailable"  # one clip (row 0)
    (root / "cache/fvd_fad/JavisBench-vanilla-max4s.pt").unlink()
    gone = E.evaluate_suite("javisbench", pred, root, metrics=["fvd"], cache_dir=tmp_path / "cache", bootstrap=0,
                            show_progress=False)["metrics"]["fvd"]
    assert gone["status"] == "unavailable" and "lacks cache/fvd_fad/JavisBench-vanilla-max4s.pt" in gone["reason"]


# -- run --model PLUGIN --suite <benchmark>: prompts from the local copy to a generator plugin ------------------------------

def test_run_sends_the_copys_prompts_to_a_plugin_and_scores_its_clips_under_the_benchmarks_names(home, tmp_path,
                                                                                                 monkeypatch, capsys):
    from ccl_bench.generators import GENERATORS, GeneratedClip, register_generator

    seen = []

    @register_generator("toy-t2av-bench")
    class Toy:
        """A flash at 0.5 s; its beep 0.1 s late where the prompt has a speech line, else 0.3 s."""

        tasks = ("t2av",)

        def generate(self, request):
            seen.append(request)
            f, out = request.format, []
            for p in request.prompts:
                video = np.zeros(f.video_shape, np.uint8)
                video[round(0.5 * f.fps)] = 255
                audio = np.zeros(f.num_samples, np.float32)
                start = round((0.6 if p.transcript else 0.8) * f.sample_rate)
                audio[start: start + 800] = 0.5 * np.sin(2 * np.pi * 1000 * np.arange(800) / f.sample_rate)
                out.append(GeneratedClip(video=video, audio=audio))
            return out

    root = t2av_copy(tmp_path / "T2AV-Compass")
    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "t2av-small.yaml").write_text(
        "name: t2av-small\nkind: benchmark\nextends: t2av-compass\nmetrics:\n  - {name: event-sync, benchmark: sync}\n"
        "  - {name: nisqa, benchmark: SQ, planned: true}\n"
        "run: {width: 64, height: 64, fps: 16, duration: 2.0, sample_rate: 16000, sound: mp4}\n")
    monkeypatch.setenv("CCL_BENCH_SUITES", str(tmp_path / "suites"))
    monkeypatch.setenv("CCL_BENCH_T2AV_COMPASS", str(root))
    try:
        code = main(["run", "--model", "toy-t2av-bench", "--suite", "t2av-small", "--out", str(tmp_path / "runs"),
                     "--cache-dir", str(tmp_path / "cache"), "--bootstrap", "20", "--quiet"])
    finally:
        GENERATORS.unregister("toy-t2av-bench")
    assert code == 0, capsys.readouterr().err
    (req,) = seen
    assert [(p.id, p.caption, p.transcript) for p in req.prompts] == [
        ("sample_0001", "scene 1", "hi"), ("sample_0002", "scene 2", None), ("sample_0003", "scene 3", "hi")]
    assert req.format.num_frames == 32 and req.task == "t2av"
    clips = tmp_path / "runs" / "t2av-small" / "clips" / "toy-t2av-bench"
    assert sorted(p.name for p in clips.iterdir()) == ["sample_0001.mp4", "sample_0002.mp4", "sample_0003.mp4"]
    res = json.loads((tmp_path / "runs" / "t2av-small" / "toy-t2av-bench.json").read_text())
    m = res["metrics"]["event-sync"]
    assert m["n"] == 3 and res["model"] == "toy-t2av-bench" and res["generation"]["clips"] == 3
    assert {k: v["n"] for k, v in m["per_category"]["sound type"].items()} == {"Speech Sounds": 3, "Ambient Sounds": 2}
    animation = m["per_category"]["subject matter"]["Animation"]  # record 1 alone: it has a speech line, so 0.1 s late
    assert animation["n"] == 1 and animation["value"] == pytest.approx(100, abs=40)
    assert res["metrics"]["nisqa"]["status"] == "unavailable" and validate_result(res) == []
    assert res["provenance"]["generator"]["name"] == "toy-t2av-bench"
    assert main(["run", "--model", "ccl", "--suite", "t2av-small", "--out", str(tmp_path / "runs")]) == 2
    assert "a reference model generates only the av-sync suite's clips" in one_error_line(capsys)
    monkeypatch.delenv("CCL_BENCH_T2AV_COMPASS")
    assert main(["run", "--model", "toy-t2av-bench", "--suite", "t2av-small", "--out", str(tmp_path / "runs")]) == 2
    assert "$CCL_BENCH_T2AV_COMPASS" in one_error_line(capsys)  # the copy is looked for before any model
