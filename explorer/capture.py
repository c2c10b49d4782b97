"""``explorer.capture.capture``: the public name of the activation capture (it lives in ``explorer.features``)."""
from .features.capture import BlockMaps, BlockStats, Capture, capture

__all__ = ["BlockMaps", "BlockStats", "Capture", "capture"]
