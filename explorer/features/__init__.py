"""Feature maps: an image decoded safely, one forward pass captured per block, and the views of a capture."""
