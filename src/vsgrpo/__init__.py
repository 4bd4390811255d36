"""vsgrpo: visual-spatial reasoning for video language models (R1-Zero-like training)."""

__version__ = "0.1.0"
