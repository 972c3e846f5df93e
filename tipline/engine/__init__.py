"""The pure conversation engine: flows in, turns out. No web, storage or Twilio imports."""

from .conversation import (
    AddToTip,
    Conversation,
    DiscardTip,
    Escalate,
    ForgetContact,
    Inbound,
    SaveTip,
    ShareIdea,
    Subscribe,
    TipDirectory,
    Turn,
    command_of,
    step,
    words_of,
)
from .flow import Flow, FlowError, load_flow
from .reference import new_reference, parse_reference

__all__ = [
    "AddToTip",
    "Conversation",
    "DiscardTip",
    "Escalate",
    "Flow",
    "FlowError",
    "ForgetContact",
    "Inbound",
    "SaveTip",
    "ShareIdea",
    "Subscribe",
    "TipDirectory",
    "Turn",
    "command_of",
    "load_flow",
    "new_reference",
    "parse_reference",
    "step",
    "words_of",
]
