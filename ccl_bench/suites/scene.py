"""A procedural scene: what a clip shows and sounds like, independent of any rendering."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Event:
    """An audio-visual event: at `t` seconds, `object` does `kind` (it is seen and heard then)."""

    t: float
    kind: str
    object: str

    def to_json(self) -> dict[str, Any]:
        return {"t": self.t, "kind": self.kind, "object": self.object}


@dataclass
class Scene:
    """family: the scene family's name (also the class label); caption: the text prompt;
    events: ground-truth events, sorted by time; params: everything the renderer needs."""

    family: str
    caption: str
    duration: float
    events: list[Event] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.family
