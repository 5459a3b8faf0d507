"""Byte counts written the way people read them, so every message about sizes agrees."""

from __future__ import annotations

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB


def size_parts(n_bytes: float) -> tuple[float, int, str]:
    """The number, its decimals and its unit ("GB", "MB", "KB" or "bytes") for a byte count:
    binary units with the familiar labels, as file managers show.

    A unit is used from 1000 of the one below, so nothing reads "1020 MB".  The window writes
    the number in its own locale from these parts; :func:`format_size` writes the English.
    """
    n = float(n_bytes)
    for unit, scale in (("GB", GIB), ("MB", MIB), ("KB", KIB)):
        if abs(n) >= scale * 1000 / 1024:
            value = n / scale
            return value, (1 if value < 100 else 0), unit
    return float(int(n)), 0, "bytes"


def format_size(n_bytes: float) -> str:
    """'2.4 GB', '850 MB', '12 KB', '300 bytes'."""
    value, decimals, unit = size_parts(n_bytes)
    return f"{value:.{decimals}f} {unit}"


class ByteSize(int):
    """A byte count given to a :class:`~desktop_app.errors.Sentence`: the English reads it as
    :func:`format_size` writes it, the window in its own locale."""

    def __str__(self) -> str:
        return format_size(self)

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


def format_parameters(count: int) -> str:
    """'268M', '3.9B', '27B': a parameter count the way model names write it."""
    for unit, scale in (("B", 10**9), ("M", 10**6), ("K", 10**3)):
        if count >= scale:
            value = count / scale
            return f"{value:.1f}{unit}" if value < 10 else f"{value:.0f}{unit}"
    return str(count)
