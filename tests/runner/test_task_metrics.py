"""Which metrics `ccl-bench run` scores for each task: those reading a stream the task makes, all of whose
streams the task's clips hold. Every registered metric must declare its streams, or a new backbone would be
dropped from `run` without a word."""

import pytest

from ccl_bench.metrics import METRICS, streams_read
from ccl_bench.runner.run import task_metrics


def test_every_metric_declares_the_streams_it_reads():
    for name in METRICS:
        assert streams_read(name) and streams_read(name) <= {"video", "audio"}, name


@pytest.mark.parametrize("task, scored, not_scored", [
    ("t2av", {"fvd", "fad", "event-hit-cc", "desync", "ib-tv", "ib-ta", "clap-score", "wer", "sync-c"}, set()),
    ("t2v", {"fvd", "clip-score", "avsync-fvd"}, {"fad", "event-hit", "desync", "ib-av", "clap-score", "wer"}),
    ("t2a", {"fad", "fd-panns", "fad-clap", "wer", "ib-ta"}, {"fvd", "event-sync", "sync-c", "ib-tv"}),
    ("a2v", {"fvd", "event-hit-cc", "desync", "sync-c", "ib-tv"}, {"fad", "wer", "clap-score", "ib-ta"}),
    ("v2a", {"fad", "event-hit-cc", "desync", "wer", "ib-ta"}, {"fvd", "clip-score", "ib-tv"}),
])
def test_a_task_scores_what_it_makes(task, scored, not_scored):
    keep, skip = task_metrics(task, list(METRICS))
    assert scored <= set(keep) and not_scored <= set(skip)
    assert set(keep) | set(skip) == set(METRICS) and not set(keep) & set(skip)
