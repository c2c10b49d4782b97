"""Feature visualization (#38): the picture each channel wants, beside its dataset examples.

Module map:
    param     how a picture is parameterised: Fourier with colour decorrelation, or MACO's phase over a magnitude
              computed from images (``magnitude_of``; the example photos' ships as ``explorer/data/spectrum.npy``)
    robust    transformation robustness: random crops, scale, rotation, shifts and noise, per picture
    relu      the ReLU-gradient warm-up for deep blocks
    optimise  ``visualize``: the optimisation, many channels in one batch, progress and cancellation
    check     what comes with every picture: the activation it reaches against the channel's top dataset image,
              and whether its path through the earlier blocks looks like real images'
    kept      pictures kept by (weights digest, normalisation, block, channel, settings)
    atlas     every channel of a block or a model, in shards on the local engine or Ray actors, resumable
    spectrum  MACO's magnitude from a folder of images (kept per folder and size)
"""
from __future__ import annotations

from .check import Check, check
from .optimise import METHODS, Cancelled, Settings, Visualization, block_output, visualize
from .param import Fourier, Maco, magnitude_of, shipped_magnitude
from .robust import Robustness

__all__ = ["METHODS", "Cancelled", "Check", "check", "Fourier", "Maco", "Robustness", "Settings", "Visualization", "block_output",
           "magnitude_of", "shipped_magnitude", "visualize"]
