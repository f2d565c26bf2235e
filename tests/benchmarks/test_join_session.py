"""`benchmarks/join_session.py`: a device call's runs and results joined into the campaign, nothing overwritten."""

import hashlib
import importlib.util
import io
import json
import shutil
import tarfile
from pathlib import Path

spec = importlib.util.spec_from_file_location("join_session", Path(__file__).parents[2] / "benchmarks" / "join_session.py")
js = importlib.util.module_from_spec(spec)
spec.loader.exec_module(js)


def _tar(members: dict[str, bytes], mode: str = "w") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_a_call_is_joined_once_and_keeps_what_is_committed(tmp_path):
    campaign, claims, call = tmp_path / "campaign", tmp_path / "claims", tmp_path / "call"
    (campaign / "logs").mkdir(parents=True)
    (campaign / "summary.json").write_text(json.dumps({"runs": {"ccl/seed-0": {"steps": 2000}}}))
    (campaign / "summary.md").write_text("# t\n\n| run | steps |\n|---|---|\n| ccl/seed-0 | as written earlier |\n\nfoot\n")
    config = {"steps_done": 2000, "train": {"steps": 2000},
              "provenance": {"commit": "abc1234", "device": "H100", "torch": "2.11", "date_utc": "2026-11-26T12:00:00Z"}}
    stopped = dict(config, steps_done=391)  # the call's budget ran out: its weights came back all the same
    metrics = "\n".join(json.dumps({"step": s, "loss": 0.1 * s, "seconds": 20.25 * s - 20.25}) for s in range(1, 7)) + "\n"
    run = {"runs/gated-mt/seed-0/config.json": json.dumps(config).encode(),
           "runs/gated-mt/seed-0/metrics.jsonl": metrics.encode(),
           "runs/gated-mt/seed-0/ema.safetensors": b"weights", "logs/gated-mt_seed-0.log": b"log",
           "runs/ovi-mt/seed-1/config.json": json.dumps(config).encode(),  # no weights came back: left out
           **{f"runs/ltx2/seed-0/{f}": data for f, data in (("config.json", json.dumps(stopped).encode()),
                                                           ("metrics.jsonl", metrics.encode()),
                                                           ("ema.safetensors", b"partial"))}}
    call.mkdir()
    blob = _tar(run, "w:xz")  # device_session.sh compresses the tar before splitting it
    (call / "conv.tar.00").write_bytes(blob[:len(blob) // 2])
    (call / "conv.tar.01").write_bytes(blob[len(blob) // 2:])
    old = tmp_path / "results/claims/matrix/seed0/cfg/av-sync/ccl.json"
    old.parent.mkdir(parents=True)
    old.write_text("committed")
    (call / "matrix.tar.xz").write_bytes(_tar({"results/claims/matrix/seed0/cfg/av-sync/gated-mt.json": b"new",
                                                "results/claims/matrix/seed0/cfg/av-sync/ccl.json": b"other"}, "w:xz"))
    said = js.join_runs(call, campaign, claims, tmp_path) + js.join_matrix(call, tmp_path)
    assert any(s.startswith("gated-mt/seed-0: joined") for s in said) and any("ovi-mt/seed-1: left out" in s for s in said)
    assert "ltx2/seed-0: left out (unfinished: 391 of 2000 steps)" in said
    assert not (campaign / "runs/ltx2").exists() and not (claims / "seed0/ltx2").is_symlink()
    assert (claims / "seed0" / "gated-mt" / "ema.safetensors").read_bytes() == b"weights"  # the link resolves to the run
    assert (campaign / "logs" / "gated-mt_seed-0.log").read_bytes() == b"log"
    row = json.loads((campaign / "summary.json").read_text())["runs"]["gated-mt/seed-0"]
    assert row["loss_mean_last5_logged"] == 0.4 and row["seconds"] == 101.25 and row["commit"] == "abc1234"
    md = (campaign / "summary.md").read_text()
    assert "| ccl/seed-0 | as written earlier |" in md and "| gated-mt/seed-0 | 2000 | 0.4000 | 101.25 | H100 |" in md
    assert md.rstrip().endswith("foot")
    assert old.read_text() == "committed" and (old.parent / "gated-mt.json").read_text() == "new"
    again = js.join_runs(call, campaign, claims, tmp_path)
    assert any("already in the campaign" in s for s in again)
    assert (campaign / "summary.md").read_text() == md
    # A run trained again (its folder joined anew) gets its row redrawn: the old row named other weights.
    shutil.rmtree(campaign / "runs" / "gated-mt")
    stale = md.replace(row["ema_sha256"][:16], "0123456789abcdef").replace("| 2000 | 0.4000 |", "| 2000 | 0.9000 |")
    (campaign / "summary.md").write_text(stale)
    js.join_runs(call, campaign, claims, tmp_path)
    assert (campaign / "summary.md").read_text() == md


def test_a_stage1_run_of_ccl_bench_train_gets_a_summary_row(tmp_path):
    # `ccl-bench train` writes device_name and versions where train_small writes device and torch.
    run = tmp_path / "streams-video"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"steps_done": 7000, "provenance": {
        "commit": "096e2b2", "device_name": "NVIDIA H100 80GB HBM3", "versions": {"torch": "2.11.0"},
        "date_utc": "2026-11-27T03:51:35Z"}}))
    (run / "metrics.jsonl").write_text("".join(json.dumps({"step": s, "loss": 0.01, "seconds": s / 10}) + "\n"
                                               for s in range(50, 301, 50)))
    (run / "ema.safetensors").write_bytes(b"weights")
    row = js.summary_row(run, tmp_path)
    assert (row["device"], row["torch"], row["steps"]) == ("NVIDIA H100 80GB HBM3", "2.11.0", 7000)
    assert row["ema_sha256"] == hashlib.sha256(b"weights").hexdigest()


def test_a_run_joined_without_its_weights_keeps_their_sha256_and_counts_as_done(tmp_path):
    campaign, claims, call = tmp_path / "campaign", tmp_path / "claims", tmp_path / "call"
    campaign.mkdir()
    (campaign / "summary.json").write_text(json.dumps({"runs": {}}))
    (campaign / "summary.md").write_text("# t\n\n| run | steps |\n|---|---|\n")
    config = {"steps_done": 2000, "train": {"steps": 2000},
              "provenance": {"commit": "abc1234", "device": "H200", "torch": "2.11", "date_utc": "2026-11-27T12:00:00Z"}}
    metrics = "".join(json.dumps({"step": s, "loss": 0.1, "seconds": float(s)}) + "\n" for s in range(1, 6))
    run = {f"runs/{m}/seed-1/{f}": data for m in ("ccl", "ovi") for f, data in
           (("config.json", json.dumps(config).encode()), ("metrics.jsonl", metrics.encode()),
            ("ema.safetensors", f"{m} weights".encode()))}
    call.mkdir()
    (call / "conv.tar.00").write_bytes(_tar(run))
    said = js.main([str(call), "--campaign", str(campaign), "--claims", str(claims), "--root", str(tmp_path),
                    "--weights", "ccl"])
    assert said == 0
    kept, bare = campaign / "runs/ccl/seed-1", campaign / "runs/ovi/seed-1"
    assert (kept / "ema.safetensors").read_bytes() == b"ccl weights" and not (kept / "ema.sha256").exists()
    assert not (bare / "ema.safetensors").exists()
    sha = hashlib.sha256(b"ovi weights").hexdigest()
    assert (bare / "ema.sha256").read_text() == f"{sha}  ema.safetensors\n"
    assert json.loads((campaign / "summary.json").read_text())["runs"]["ovi/seed-1"]["ema_sha256"] == sha
    from train_small import RunSpec, run_state  # join_session put benchmarks/ on the path

    spec_ = RunSpec("ovi/seed-1", "joint", "ovi", 1, 2000, 128)
    assert run_state(bare, spec_) == ("done", 2000)  # the campaign does not train it again
    (bare / "ema.sha256").unlink()
    assert run_state(bare, spec_)[0] == "todo"
