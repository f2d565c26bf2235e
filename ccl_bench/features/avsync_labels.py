"""The labels of the suite-native encoders (protocol `ccl-avsync-features-v1`), read from what a suite
manifest holds: the family (`label`), the caption and the events. No torch: the metrics read it too.

A label a family does not define is `None` (masked in training, not scored):
- family: one of the av-sync suite's five families (the manifest's `label`);
- colour: the single colour word of the caption (multi-object names several: masked);
- pitch: `low` / `high`, the beep of the flash-beep caption (the only caption that names a pitch);
- count: number of events, 0..3 and `4+` (training only; a prompt does not state it)."""

from __future__ import annotations

import re

from ..suites.av_sync import FAMILIES
from ..suites.synth import COLORS

PROTOCOL = "ccl-avsync-features-v1"
CLASSES: dict[str, list[str]] = {
    "family": list(FAMILIES),
    "colour": list(COLORS),
    "pitch": ["low", "high"],
    "count": ["0", "1", "2", "3", "4+"],
}
HEADS = {"video": ("family", "colour", "count"), "audio": ("family", "pitch", "count")}
# What a prompt names that each modality can show: prompt accuracy checks these (where the caption has them).
PROMPT_LABELS = {"video": ("family", "colour"), "audio": ("family", "pitch")}


def clip_labels(family: str | None, caption: str | None, events: list | None = None) -> dict[str, int | None]:
    """Class indices of a clip's labels (see the module docstring); `None` where not defined."""
    out: dict[str, int | None] = {k: None for k in CLASSES}
    if family in CLASSES["family"]:
        out["family"] = CLASSES["family"].index(family)
    words = re.findall(r"[a-z]+", (caption or "").lower())
    colours = [w for w in words if w in COLORS]
    if len(colours) == 1:
        out["colour"] = CLASSES["colour"].index(colours[0])
    m = re.search(r"\b(low|high) beep\b", (caption or "").lower())
    if m:
        out["pitch"] = CLASSES["pitch"].index(m.group(1))
    if events is not None:
        out["count"] = min(len(events), len(CLASSES["count"]) - 1)
    return out
