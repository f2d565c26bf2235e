"""What result files record of paths: never a machine's folders, `--set NAME=PATH` values included."""

from ccl_bench.paths import portable_options
from ccl_bench.provenance import command_line


def test_set_values_that_name_folders_are_recorded_without_the_machine_path(tmp_path):
    ck = tmp_path / "ck" / "seed0" / "none"
    ck.mkdir(parents=True)
    line = command_line(["run", "--model", "cascade", "--set", f"t2v={ck}", "--set", "v2a=ccl", f"--out={tmp_path}/o"])
    assert str(tmp_path) not in line
    assert "--set t2v=<outside>/none --set v2a=ccl" in line and "--out=<outside>/o" in line
    assert portable_options({"t2v": str(ck), "v2a": "ccl", "steps": 4}) == {"t2v": "<outside>/none", "v2a": "ccl", "steps": 4}

