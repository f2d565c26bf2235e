"""The README's "Evaluate your own clips" commands, run exactly as written (in an empty folder beside the
repository's `examples/`, with `ccl-bench` this source tree and an empty `$CCL_BENCH_HOME`: no weights)."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Evaluate your own clips", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    return [ln for ln in block.splitlines() if ln.strip()]


def test_the_readme_section_evaluates_a_plain_folder_with_prompts(tmp_path):
    commands = readme_commands()
    assert any(c.startswith("ccl-bench eval --pred ") and "--prompts" in c for c in commands)
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    script = "set -e\nccl-bench() { \"$PY\" -m ccl_bench \"$@\"; }\n" + "\n".join(commands) + "\n"
    env = {**os.environ, "PY": sys.executable, "PYTHONPATH": str(ROOT), "CCL_BENCH_HOME": str(tmp_path / "home")}
    done = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert not (tmp_path / "my-clips" / "manifest.json").exists()  # a plain folder was evaluated
    res = json.loads((tmp_path / "my-result.json").read_text())
    assert res["clips"]["pred"]["prompts"]["attached"] == 6 and res["clips"]["pred"]["used"] == 6
    m = res["metrics"]
    assert 0 <= m["prompt-accuracy-video"]["value"] <= 1 and len(m["prompt-accuracy-video"]["per_family"]) == 5
    assert m["clip-score"]["status"] == "unavailable" and "ViT-B-32.pt" in m["clip-score"]["reason"]
    assert "my-result.json: valid result (schema v1)" in done.stdout
