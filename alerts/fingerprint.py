"""Stable hashes of label sets.

An alert is identified by its labels, as in Alertmanager (``model.LabelSet.Fingerprint``):
the same label set always gives the same fingerprint, whatever the order the labels
were built in, across processes and Python versions (no ``hash()``, which is salted
per process).

Two functions:

- :func:`fingerprint` hashes a label set exactly as given.
- :func:`identity_fingerprint` hashes only the labels that say *which* alert this is,
  leaving out :data:`VOLATILE_LABELS` (``severity``, ``alertname``, ``level``). Those follow
  the subject's level: when a chain escalates from yellow to red it is the same alert
  getting worse, not a new alert, so it keeps its fingerprint and its ``starts_at``
  and the lifecycle can notify "severity changed" instead of "resolved + new".
  :class:`~alerts.model.Alert` fingerprints are identity fingerprints.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

FINGERPRINT_HEX_CHARS = 16
"""Length of a fingerprint: 16 hex chars = 64 bits, the width of Alertmanager's."""

VOLATILE_LABELS = frozenset({"severity", "alertname", "level"})
"""Labels that may change while an alert stays the same alert (see module docstring)."""

# 0xFF never occurs in UTF-8, so it cannot be confused with any byte of a label name
# or value: "a"="b,c" and "a,b"="c" (or any other split) always hash differently.
_SEPARATOR = b"\xff"


def fingerprint(labels: Mapping[str, str]) -> str:
    """Return the fingerprint of a label set.

    The hash is SHA-256 over the labels sorted by name, each written as
    ``name 0xFF value 0xFF`` in UTF-8, truncated to its first 16 hex characters.
    It is independent of insertion order and differs whenever any label name or
    value differs (up to the negligible chance of a 64-bit collision).

    Raises:
        TypeError: if a label name or value is not a ``str``.
    """
    digest = hashlib.sha256()
    for name in sorted(labels):
        value = labels[name]
        if not isinstance(name, str) or not isinstance(value, str):
            raise TypeError(
                f"labels must map str to str; label {name!r} has value {value!r} "
                f"({type(value).__name__})"
            )
        # surrogatepass: a lone surrogate should hash, not crash the alert pipeline.
        digest.update(name.encode("utf-8", "surrogatepass"))
        digest.update(_SEPARATOR)
        digest.update(value.encode("utf-8", "surrogatepass"))
        digest.update(_SEPARATOR)
    return digest.hexdigest()[:FINGERPRINT_HEX_CHARS]


def identity_fingerprint(labels: Mapping[str, str]) -> str:
    """Return the fingerprint of ``labels`` without the :data:`VOLATILE_LABELS`.

    This is the key an alert is tracked under across assessment runs.
    """
    return fingerprint({k: v for k, v in labels.items() if k not in VOLATILE_LABELS})
