"""Metrics II through the CLI: every learned metric and preset is listed, every weights file shows its
source and checksum, and eval on a folder without the weights names, per metric on one line, the file
to place and where."""

import pytest

from ccl_bench import weights as W
from ccl_bench.cli import main
from ccl_bench.metrics import METRICS

LEARNED = ["fd-panns", "clip-score", "clip-score@javisbench-cv2", "desync", "desync@javisbench", "desync@versebench",
           "sync-c", "sync-d", "wer", "wer@clip-mean", "wer@whisper-tiny.en",
           "ib-av", "ib-av@javisbench", "ib-tv", "ib-ta", "javisscore"]


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
                   "clip-mean", "whisper-tiny.en"):
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
             "ib-av", "ib-tv", "javisscore"]
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
             "ib-av": "imagebind_huge.pth", "ib-tv": "imagebind_huge.pth", "javisscore": "imagebind_huge.pth"}
    assert len(lines) == len(names)
    for name, line in zip(names, lines, strict=True):
        assert line.startswith(f"{name}: unavailable: place {files[name]} at {tmp_path / 'w' / files[name]} (from http")
