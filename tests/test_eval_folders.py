"""`ccl-bench eval` on what other generators leave: a plain folder of clips (no manifest), prompts from a
sidecar CSV/JSONL, reference features from a file (ccl-bench's `.npz`, JavisBench's FVD/FAD cache `.pt`)."""

import csv
import json
import shutil

import av
import numpy as np
import pytest
import torch

from ccl_bench import evaluate as E
from ccl_bench.cli import main
from ccl_bench.errors import CCLBenchError
from ccl_bench.features.reference import JAVISBENCH_FORMAT, read_reference_features
from ccl_bench.io import write_clip
from ccl_bench.schema import validate_result
from ccl_bench.suites import build_suite, load_suite
from tests.conftest import event_clip
from tests.features.test_backbones import pin_to, save_i3d_file


@pytest.fixture
def home(tmp_path, monkeypatch):
    """An empty CCL_BENCH_HOME: no metric weights, a fresh feature cache."""
    monkeypatch.setenv("CCL_BENCH_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture(scope="module")
def suite6(tmp_path_factory):
    """Six av-sync clips (tiny) with their manifest: captions, families."""
    d = tmp_path_factory.mktemp("suite6")
    build_suite(load_suite("av-sync"), d, split="test", rendering="tiny", num=6, seed=0, show_progress=False)
    return d, json.loads((d / "manifest.json").read_text())["clips"]


@pytest.fixture
def plain(suite6, tmp_path):
    """The same clips as a plain folder: what a generator leaves, no manifest."""
    d = tmp_path / "plain"
    d.mkdir()
    for f in suite6[0].glob("*.mkv"):
        shutil.copy(f, d)
    return d


def write_webm(clip, path):
    """VP9 + Opus through PyAV (the writer of ccl-bench makes mp4/mov/mkv only)."""
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libvpx-vp9", rate=int(clip.fps))
        vs.width, vs.height, vs.pix_fmt = clip.video.shape[2], clip.video.shape[1], "yuv420p"
        vs.options = {"lossless": "1"}
        aus = out.add_stream("libopus", rate=48000, layout="mono")
        for f in clip.video:
            out.mux(vs.encode(av.VideoFrame.from_ndarray(f, format="rgb24")))
        out.mux(vs.encode(None))
        audio = np.repeat(clip.audio, 3, axis=1)  # 16 -> 48 kHz by repetition: the burst's start is kept
        for i in range(0, audio.shape[1], 960):
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(audio[:, i:i + 960]), format="fltp", layout="mono")
            frame.sample_rate = 48000
            out.mux(aus.encode(frame))
        out.mux(aus.encode(None))


def test_a_plain_folder_of_pyav_clips_evaluates(home, tmp_path, capsys):
    d = tmp_path / "mine"
    d.mkdir()
    for name, t in (("a.mp4", 0.5), ("b.mkv", 0.8), ("c.mov", 1.0)):
        write_clip(event_clip(t_event=t), d / name)
    write_clip(event_clip(t_event=0.7), d / "e.mp4", sidecar="wav")  # video + same-stem wav
    write_webm(event_clip(t_event=1.2), d / "f.webm")
    (d / "notes.txt").write_text("not a clip")
    out = tmp_path / "r"
    assert main(["eval", "--pred", str(d), "--metrics", "event-sync,event-hit", "--bootstrap", "20", "--out", str(out),
                 "--quiet"]) == 0
    res = json.loads(out.with_suffix(".json").read_text())
    assert res["clips"]["pred"]["used"] == 5 and res["clips"]["pred"]["excluded"] == []  # e.wav read as e.mp4's sound
    assert res["metrics"]["event-sync"]["n"] == 5 and res["metrics"]["event-sync"]["value"] < 60  # flash and burst together
    assert res["schema_version"] == 1 and res["suite"] is None and "prompts" not in res["clips"]["pred"]
    assert validate_result(res) == []


def _write_prompts(path, clips, extra_id="lost"):
    """id,caption,category of all clips but the last, and one prompt with no clip."""
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "caption", "category"])
        for c in clips[:-1]:
            w.writerow([c["id"], c["caption"], c["label"]])
        w.writerow([extra_id, "a lone cyan light flashes with a low beep", "flash-beep"])


def test_a_prompt_csv_enables_the_text_metrics_and_reports_what_did_not_match(suite6, plain, home, tmp_path, capsys):
    clips = suite6[1]
    names = "prompt-accuracy-video,clip-score"
    bare = E.evaluate(plain, metrics=[*names.split(","), "ib-av@javisbench", "ib-tv"], bootstrap=0,
                      show_progress=False)["metrics"]
    assert "--prompts" in bare["prompt-accuracy-video"]["reason"]
    # No caption anywhere: said before any weights are looked for (none are placed here either).
    assert bare["clip-score"]["reason"].startswith("no clip has a caption") and "place" not in bare["clip-score"]
    # One analysis, two metrics: the caption's absence is ib-tv's reason, not ib-av's (which reads no text).
    assert bare["ib-tv"]["reason"].startswith("no clip has a caption")
    assert "imagebind_huge.pth" in bare["ib-av@javisbench"]["reason"]

    prompts = tmp_path / "prompts.csv"
    _write_prompts(prompts, clips)
    out = tmp_path / "r"
    assert main(["eval", "--pred", str(plain), "--prompts", str(prompts), "--metrics", names, "--bootstrap", "20",
                 "--out", str(out), "--quiet"]) == 0
    res = json.loads(out.with_suffix(".json").read_text())
    pa = res["metrics"]["prompt-accuracy-video"]
    assert pa["value"] >= 0.6 and pa["n"] == 6 and pa["n_with_text"] == 5 and "5 of 6" in pa["note"]
    assert set(pa["per_family"]) == {c["label"] for c in clips[:-1]}  # the categories: one row each
    cs = res["metrics"]["clip-score"]  # captions present: what is missing now is its weights file
    assert cs["status"] == "unavailable" and "ViT-B-32.pt" in cs["reason"] and cs["place"].endswith("ViT-B-32.pt")
    rec = res["clips"]["pred"]["prompts"]
    assert rec["file"].endswith("prompts.csv") and str(tmp_path) not in rec["file"]
    assert (rec["attached"], rec["clips_without_prompt"], rec["prompts_without_clip"]) == (5, [clips[-1]["id"]], ["lost"])
    screen = capsys.readouterr().out
    assert f"1 clip has no prompt (no caption, transcript or category): {clips[-1]['id']}" in screen
    assert "1 prompt id has no clip in the folder: lost" in screen and "attached to 5 of 6 clips" in screen
    assert "1 prompt id has no clip in the folder: lost" in out.with_suffix(".md").read_text()  # the table says so too
    assert validate_result(res) == []


def test_prompts_from_jsonl_give_the_same_metrics_as_csv(suite6, plain, home, tmp_path):
    rows = [{"id": c["id"], "caption": c["caption"], "category": c["label"]} for c in suite6[1]]
    (tmp_path / "p.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    res = E.evaluate(plain, metrics=["prompt-accuracy-audio"], bootstrap=0, show_progress=False, prompts=tmp_path / "p.jsonl")
    want = E.evaluate(suite6[0], metrics=["prompt-accuracy-audio"], bootstrap=0, show_progress=False)
    # A plain folder with its prompts scores as the manifest folder it came from.
    got, ref = res["metrics"]["prompt-accuracy-audio"], want["metrics"]["prompt-accuracy-audio"]
    assert got["value"] == ref["value"] and got["per_family"].keys() == ref["per_family"].keys()


@pytest.fixture(scope="module")
def ref_features(suite6, tmp_path_factory):
    """Reference clips (six more, seed 1), an evaluation against them that saved their features, and the file."""
    d = tmp_path_factory.mktemp("ref")
    ref = d / "ref-clips"
    build_suite(load_suite("av-sync"), ref, split="test", rendering="tiny", num=6, seed=1, show_progress=False)
    feats = d / "ref.npz"
    mp = pytest.MonkeyPatch()
    mp.setenv("CCL_BENCH_HOME", str(d / "home"))
    res = E.evaluate(suite6[0], ref, metrics=["avsync-fvd", "avsync-fad"], bootstrap=20, show_progress=False,
                     save_ref_features=feats)
    mp.undo()
    return ref, feats, res


def test_reference_features_saved_and_read_back_give_the_same_values(suite6, ref_features, home):
    ref, feats, from_clips = ref_features
    from_file = E.evaluate(suite6[0], feats, metrics=["avsync-fvd", "avsync-fad", "fad"], bootstrap=20, show_progress=False)
    for name in ("avsync-fvd", "avsync-fad"):
        a, b = from_clips["metrics"][name], from_file["metrics"][name]
        assert (a["value"], a["ci95"], a["n_ref"]) == (b["value"], b["ci95"], b["n_ref"]) and b["n_ref"] == 6
        assert set(a["per_family"]) == set(b["per_family"])  # the file keeps each reference clip's family
    assert from_file["metrics"]["fad"]["reason"] == "ref.npz holds no vggish features (it holds: avsync-video, avsync-audio)"
    side = from_file["clips"]["ref"]
    assert side["format"] == "ccl-bench-reference-features" and side["clips"] == 6 and len(side["sha256"]) == 64
    assert from_clips["clips"]["ref"]["saved_features"].endswith("ref.npz")
    with np.load(feats, allow_pickle=False) as z:
        header = json.loads(str(z["header"]))
        manifest = json.loads((ref / "manifest.json").read_text())["clips"]
        assert list(z["ids"]) == [c["id"] for c in manifest] and list(z["labels"]) == [c["label"] for c in manifest]
        assert z["features/avsync-video"].shape[0] == z["rows/avsync-video"].sum() == 6
    v = header["analyses"]["avsync-video"]
    assert v["protocol"]["weights_sha256"] == from_clips["provenance"]["weights_sha256"]["avsync-video"]
    assert (header["clips"], v["metrics"], header["format_version"]) == (6, ["avsync-fvd"], 1)
    assert header["ccl_bench"] and header["decoder"] == from_clips["provenance"]["decoder"]
    assert validate_result(from_file) == [] and validate_result(from_clips) == []


def _rewrite_header(src, dst, change):
    with np.load(src, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    header = json.loads(str(arrays["header"]))
    change(header)
    arrays["header"] = np.array(json.dumps(header))
    np.savez(dst, **arrays)
    return dst


@pytest.mark.parametrize("change, fault", [
    (lambda h: h["analyses"]["avsync-video"]["protocol"].update(weights_sha256="0" * 64), "weights_sha256 000000000000..."),
    (lambda h: h["analyses"]["avsync-video"]["protocol"].update(window_s=4.0), "window_s 4.0 vs 2.0"),
    (lambda h: h["analyses"]["avsync-video"].update(name="avsync-audio"), "analysis avsync-audio vs avsync-video"),
])
def test_a_features_file_of_another_protocol_is_refused_in_one_line_before_any_clip(suite6, ref_features, home, tmp_path,
                                                                                  capsys, monkeypatch, change, fault):
    bad = _rewrite_header(ref_features[1], tmp_path / "bad.npz", change)
    monkeypatch.setattr(E, "analyse", lambda *a, **k: pytest.fail("clips analysed before the file was refused"))
    assert main(["eval", "--pred", str(suite6[0]), "--ref", str(bad), "--metrics", "avsync-fvd", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "bad.npz: its avsync-video features do not match avsync-fvd's protocol" in err
    assert fault in err


def test_how_this_machine_checked_the_weights_is_no_mismatch(suite6, ref_features, home, tmp_path):
    ok = _rewrite_header(ref_features[1], tmp_path / "ok.npz",
                         lambda h: h["analyses"]["avsync-video"]["protocol"].update(weights_check="trusted on first use"))
    res = E.evaluate(suite6[0], ok, metrics=["avsync-fvd"], bootstrap=0, show_progress=False)
    assert res["metrics"]["avsync-fvd"]["value"] == ref_features[2]["metrics"]["avsync-fvd"]["value"]


def test_javisbench_fvd_fad_cache_is_read_for_its_own_preset(suite6, home, tmp_path, monkeypatch, capsys):
    pt = tmp_path / "JavisBench-mini-vanilla-max4s.pt"
    g = torch.Generator().manual_seed(0)
    torch.save({"video": torch.randn(8, 400, generator=g), "audio": torch.randn(8, 1024, generator=g)}, pt)
    rf = read_reference_features(pt)
    assert rf.format == JAVISBENCH_FORMAT and list(rf.analyses) == ["i3d"] and len(rf.rows["i3d"]) == 8
    assert rf.rows["i3d"][3].shape == (1, 400) and "AudioCLIP" in rf.missing_reason("vggish")
    wdir = home / "weights"
    save_i3d_file(wdir)
    pin_to(monkeypatch, "i3d-kinetics400", wdir / "i3d_pretrained_400.pt")
    three = tmp_path / "three"
    three.mkdir()
    for f in sorted(suite6[0].glob("*.mkv"))[:3]:
        shutil.copy(f, three)
    assert main(["eval", "--pred", str(three), "--ref", str(pt), "--metrics", "fvd", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "do not match fvd's protocol (analysis i3d-javisbench vs i3d-videogpt" in err and "--protocol javisbench" in err
    assert main(["eval", "--pred", str(three), "--ref", str(pt), "--metrics", "fvd,fad", "--protocol", "javisbench",
                 "--bootstrap", "0", "--out", str(tmp_path / "r"), "--quiet"]) == 0
    screen = capsys.readouterr().out
    assert "ref: features of 8 clips from " in screen and "ref i3d: the file records no weights checksum" in screen
    res = json.loads((tmp_path / "r.json").read_text())
    fvd, fad = res["metrics"]["fvd"], res["metrics"]["fad"]
    assert np.isfinite(fvd["value"]) and (fvd["n"], fvd["n_ref"]) == (3, 8) and fvd["protocol"]["name"] == "javisbench"
    assert fad["status"] == "unavailable" and "AudioCLIP" in fad["reason"]
    assert "no weights checksum" in res["clips"]["ref"]["notes"]["i3d"] and res["clips"]["ref"]["format"] == JAVISBENCH_FORMAT
    assert validate_result(res) == []


@pytest.mark.parametrize("content, fault", [
    ([1, 2, 3], "expected JavisBench's FVD/FAD cache"),
    ({"video": torch.zeros(4, 512)}, "`video` rows are 512-d"),
    ({"video": torch.zeros(4, 400), "audio": torch.zeros(3, 1024)}, "different row counts (4, 3)"),
])
def test_a_bad_javisbench_cache_is_one_line(tmp_path, content, fault):
    torch.save(content, tmp_path / "c.pt")
    with pytest.raises(CCLBenchError, match="c.pt: .*" + fault.replace("(", r"\(").replace(")", r"\)")):
        read_reference_features(tmp_path / "c.pt")


@pytest.mark.parametrize("extra, needle", [
    (["--save-ref-features", "f.npz"], "--save-ref-features f.npz: needs --ref DIR"),
    (["--ref", "REF", "--save-ref-features", "f.txt"], "--save-ref-features f.txt: name a .npz file"),
    (["--ref", "notes.txt"], "notes.txt: --ref takes a folder of clips, a ccl-bench features file (.npz)"),
    (["--ref", "REF", "--save-ref-features", "f.npz"], "--save-ref-features f.npz: no metric asked for reads reference"),
    (["--prompts", "nope.csv"], "nope.csv: prompt file not found"),
    (["--prompts", "other.csv"], "other.csv: no prompt id matches a clip of"),
])
def test_bad_options_are_one_line(suite6, home, tmp_path, monkeypatch, capsys, extra, needle):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "other.csv").write_text("id,caption\ntest-00000.mkv,a clip named with its suffix\n")
    extra = [str(suite6[0]) if x == "REF" else x for x in extra]
    assert main(["eval", "--pred", str(suite6[0]), "--metrics", "event-sync", "--quiet", *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and needle in err


def test_wer_reads_the_transcript_from_the_prompt_file(suite6, plain, home, tmp_path):
    bare = E.evaluate(plain, metrics=["wer"], bootstrap=0, show_progress=False)["metrics"]["wer"]
    assert bare["reason"].startswith("no clip has a transcript: give --prompts FILE")
    rows = [{"id": c["id"], "caption": c["caption"], "transcript": "one two three"} for c in suite6[1]]
    (tmp_path / "p.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    res = E.evaluate(plain, metrics=["wer"], bootstrap=0, show_progress=False, prompts=tmp_path / "p.jsonl")
    wer = res["metrics"]["wer"]  # past the transcript check: now its recogniser's weights are what is missing
    assert wer["status"] == "unavailable" and wer["reason"].startswith("weights file large-v3.pt not found")
    assert wer["place"].endswith("large-v3.pt")
