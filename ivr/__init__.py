"""Voice IVR gateway with human fallback."""

__version__ = "0.1.0"
