"""Prompt sidecars (CSV / JSONL): the records a plain folder of clips gets its captions from."""

import json

import pytest

from ccl_bench.errors import CCLBenchError
from ccl_bench.io.prompts import Prompt, read_prompts


def test_csv_and_jsonl_give_the_same_records(tmp_path):
    csv = tmp_path / "p.csv"
    csv.write_text('id,caption,transcript,category,extra\n'
                   'a,"a red ball, bouncing",,sports,x\nb,a dog barks,woof woof,animals,y\n')
    jsonl = tmp_path / "p.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in (
        {"id": "a", "caption": "a red ball, bouncing", "category": "sports"},
        {"id": "b", "caption": "a dog barks", "transcript": "woof woof", "category": "animals"})) + "\n\n")
    want = {"a": Prompt("a", "a red ball, bouncing", None, "sports"), "b": Prompt("b", "a dog barks", "woof woof", "animals")}
    assert read_prompts(csv) == want == read_prompts(jsonl)
    assert want["b"].text() == {"caption": "a dog barks", "transcript": "woof woof"}
    assert want["a"].text() == {"caption": "a red ball, bouncing"}


@pytest.mark.parametrize("name, body, fault", [
    ("p.csv", "id,text\na,hello\n", "p.csv: the header row lacks caption"),
    ("p.csv", "id,caption\na,\n", "p.csv: line 2: no caption"),
    ("p.csv", "id,caption\na,x\na,y\n", "p.csv: id 'a' appears twice"),
    ("p.jsonl", '{"id": "a", "caption": "x"}\n{"id": "b", \n', "p.jsonl: line 2: not valid JSON"),
    ("p.jsonl", '["a", "x"]\n', "p.jsonl: line 1: not an object"),
    ("p.txt", "a x\n", "p.txt: prompts must be .csv or .jsonl"),
    ("p.csv", "id,caption\n", "p.csv: no prompts"),
])
def test_a_bad_prompt_file_is_one_line_naming_file_line_and_fault(tmp_path, name, body, fault):
    (tmp_path / name).write_text(body)
    with pytest.raises(CCLBenchError) as err:
        read_prompts(tmp_path / name)
    assert fault in str(err.value) and "\n" not in str(err.value)


def test_a_missing_prompt_file_is_named(tmp_path):
    with pytest.raises(CCLBenchError, match="nope.csv: prompt file not found"):
        read_prompts(tmp_path / "nope.csv")
