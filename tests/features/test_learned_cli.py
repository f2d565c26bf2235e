"""Metrics II through the CLI: every learned metric and preset is listed, every weights file shows its
source and checksum, and eval on a folder without the weights names, per metric on one line, the file
to place and where."""

import pytest
import torch

from ccl_bench import weights as W
from ccl_bench.cli import main
from ccl_bench.metrics import METRICS

LEARNED = ["fd-panns", "clip-score", "clip-score@javisbench-cv2", "desync", "desync@javisbench", "desync@versebench",
           "sync-c", "sync-d", "wer", "wer@clip-mean", "wer@whisper-tiny.en",
           "ib-av", "ib-av@javisbench", "ib-tv", "ib-ta", "javisscore", "fad-clap", "fad-clap@fadtk-music", "clap-score",
           "fd-passt"]


def run(capsys, monkeypatch, *argv):
    monkeypatch.setenv("COLUMNS", "400")  # rich wraps nothing at this width
    code = main(list(argv))
    return code, capsys.readouterr().out


def test_list_metrics_shows_each_learned_metric_and_its_preset(capsys, monkeypatch):
    code, out = run(capsys, monkeypatch, "list", "metrics")
    assert code == 0
    for name in LEARNED:
        assert name in METRICS and name in out
    for preset in ("av-benchmark", "javisbench", "versebench", "javisbench-cv2", "syncnet-python", "whisper-large-v3",
                   "clip-mean", "whisper-tiny.en", "fadtk", "fadtk-music"):
        assert f"preset {preset}:" in out


def test_weights_list_shows_source_and_checksum(capsys, monkeypatch, tmp_path):
    code, out = run(capsys, monkeypatch, "weights", "list", "--weights-dir", str(tmp_path))
    assert code == 0
    # Long cells fold over several rows: read each column's text back without the table's borders.
    rows = [ln.split("│")[1:-1] for ln in out.splitlines() if ln.startswith("│")]
    columns = ["".join("".join(r[i].split()) for r in rows) for i in range(6)]
    for w in W.REGISTRY.values():
        assert w.filename in columns[1] and w.url in columns[5]
        assert (w.md5 or w.sha256 or w.sha256_prefix or "nonepublished") in columns[3]


@pytest.fixture
def suite(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("CCL_BENCH_HOME", raising=False)
    main(["suite", "build", "av-sync", "--rendering", "tiny", "--num", "1", "--out", str(tmp_path / "s"), "--quiet"])
    capsys.readouterr()
    return tmp_path / "s"


def test_eval_without_weights_names_each_file_and_place_on_one_line(capsys, monkeypatch, tmp_path, suite):
    names = ["desync", "desync@javisbench", "clip-score", "fd-panns", "sync-c", "sync-d", "wer", "wer@whisper-tiny.en",
             "ib-av", "ib-tv", "javisscore", "fad-clap", "clap-score", "fd-passt"]
    # wer reads a transcript, which av-sync clips have not: a prompt file gives one (else wer says that first).
    (tmp_path / "p.csv").write_text("id,caption,transcript\ntest-00000,a ball bounces,one two three\n")
    code, out = run(capsys, monkeypatch, "eval", "--pred", str(suite), "--ref", str(suite), "--metrics", ",".join(names),
                    "--weights-dir", str(tmp_path / "w"), "--cache-dir", str(tmp_path / "c"), "--quiet",
                    "--prompts", str(tmp_path / "p.csv"))
    assert code == 0
    lines = [ln for ln in out.splitlines() if ": unavailable: place " in ln]
    files = {"desync": "synchformer_state_dict.pth", "desync@javisbench": "synchformer_state_dict.pth",
             "clip-score": "ViT-B-32.pt", "fd-panns": "Cnn14_16k_mAP=0.438.pth", "sync-c": "syncnet_v2.model",
             "sync-d": "syncnet_v2.model", "wer": "large-v3.pt", "wer@whisper-tiny.en": "tiny.en.pt",
             "ib-av": "imagebind_huge.pth", "ib-tv": "imagebind_huge.pth", "javisscore": "imagebind_huge.pth",
             "fad-clap": "630k-audioset-best.pt", "clap-score": "music_speech_audioset_epoch_15_esc_89.98.pt",
             "fd-passt": "passt-s-f128-p16-s10-ap.476-swa.pt"}
    assert len(lines) == len(names)
    for name, line in zip(names, lines, strict=True):
        assert line.startswith(f"{name}: unavailable: place {files[name]} at {tmp_path / 'w' / files[name]} (from http")


def test_eval_runs_passt_and_clap_metrics_end_to_end_with_random_weights(tmp_path, monkeypatch):
    """fd-passt, fad-clap and clap-score through `evaluate` on a tiny suite folder (the backbones at reduced
    depth, random weights in the official file names)."""
    from ccl_bench import features
    from ccl_bench.evaluate import evaluate
    from ccl_bench.features import clap as C
    from ccl_bench.features import passt as P
    from ccl_bench.suites import build_suite, load_suite
    from tests.features.test_clap import NARROW, random_clap, save_official, write_tokenizer
    from tests.features.test_passt import ONE_BLOCK, random_passt

    monkeypatch.delenv("CCL_BENCH_HOME", raising=False)
    wdir, suite = tmp_path / "w", tmp_path / "s"
    build_suite(load_suite("av-sync"), suite, split="test", rendering="tiny", num=3, seed=0, show_progress=False)
    wdir.mkdir()
    torch.save(random_passt().state_dict(), wdir / "passt-s-f128-p16-s10-ap.476-swa.pt")
    text = write_tokenizer(wdir)
    save_official(random_clap("fadtk-audio", text, NARROW), wdir / "630k-audioset-best.pt")
    save_official(random_clap("av-benchmark", text, NARROW), wdir / "music_speech_audioset_epoch_15_esc_89.98.pt")
    monkeypatch.setitem(features.BACKBONES, "passt", lambda wd, dev: P.PaSSTFeatures(wd, dev, cfg=ONE_BLOCK))
    for preset in ("fadtk-audio", "av-benchmark"):
        monkeypatch.setitem(features.BACKBONES, f"clap-{preset}",
                            lambda wd, dev, p=preset: C.ClapFeatures(p, wd, dev, text=text, audio=NARROW))
    res = evaluate(suite, suite, metrics=["fd-passt", "fad-clap", "clap-score"], weights_dir=wdir, cache_dir=tmp_path / "c",
                   bootstrap=0, show_progress=False, device="cpu")
    m = res["metrics"]
    assert m["fd-passt"]["n"] == 3 and abs(m["fd-passt"]["value"]) < 1e-6  # a set against itself
    assert m["fad-clap"]["n"] == 3 and abs(m["fad-clap"]["value"]) < 1e-6
    assert -1 <= m["clap-score"]["value"] <= 1 and m["clap-score"]["n"] == 3
    shas = res["provenance"]["weights_sha256"]
    assert shas["clap-av-benchmark"]["roberta-vocab"] == W.sha256_of(wdir / "roberta-base" / "vocab.json")
