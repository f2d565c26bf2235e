"""The runner: the one place that joins suites and clips (ccl_bench) with the reference models."""
