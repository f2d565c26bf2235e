"""Cross-modal interactions, one module each behind one interface (`Interaction.run_layer`)."""

from .base import Interaction, NoExchange, StreamState
from .ccl import CCLInteraction, CrossModalContextAttention, LearnableContextTokens
from .gated import GatedInteraction
from .joint import JointInteraction
from .ltx2 import LTX2Interaction
from .ovi import OviInteraction

INTERACTIONS: dict[str, type[Interaction]] = {
    "ccl": CCLInteraction,
    "gated": GatedInteraction,
    "ovi": OviInteraction,
    "ltx2": LTX2Interaction,
    "joint": JointInteraction,
    "none": NoExchange,
}

__all__ = [
    "INTERACTIONS",
    "CCLInteraction",
    "CrossModalContextAttention",
    "Interaction",
    "LearnableContextTokens",
    "NoExchange",
    "StreamState",
]
