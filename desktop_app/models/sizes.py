"""Byte counts written the way people read them, so every message about sizes agrees."""

from __future__ import annotations

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB


def format_size(n_bytes: float) -> str:
    """'2.4 GB', '850 MB', '12 KB': binary units with the familiar labels, as file managers show.

    A unit is used from 1000 of the one below, so nothing reads "1020 MB".
    """
    n = float(n_bytes)
    for unit, scale in (("GB", GIB), ("MB", MIB), ("KB", KIB)):
        if abs(n) >= scale * 1000 / 1024:
            value = n / scale
            return f"{value:.1f} {unit}" if value < 100 else f"{value:.0f} {unit}"
    return f"{int(n)} bytes"
