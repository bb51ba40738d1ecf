"""chainwatch: the service that wires collectors, indicators and alerts together."""

__version__ = "0.1.0"
