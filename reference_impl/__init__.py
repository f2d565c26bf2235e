"""Reference dual-stream audio-video models: CCL and the baseline interactions (no metrics here)."""


def list_models() -> list[str]:
    return []
