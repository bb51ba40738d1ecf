"""US dollar amounts for people: ``$49.9bn``, ``$455.7M``, ``$12.0k``, ``$300``."""

from __future__ import annotations


def format_usd(value: float) -> str:
    """USD with a k/M/bn suffix and one decimal (whole dollars below $1,000)."""
    for size, suffix in ((1e9, "bn"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"${value / size:.1f}{suffix}"
    return f"${value:.0f}"
