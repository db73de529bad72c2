"""Checked conversions of what people type or send to the API: a clear message that says what is allowed, and
never the whole of an unbounded input echoed back."""

import math

MAX_TEXT_CHARS = 20_000  # a pasted input longer than this is refused, not silently cut
MAX_SHORT_CHARS = 300  # names, specs, single-line fields


def quoted(value) -> str:
    """A value as a message may quote it: its repr, cut to 40 characters (never a 1 MB echo)."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "…"


def whole(value, name: str, low: int, high: int) -> int:
    """An integer in [low, high] from a number, a numeric string or a whole float; else ValueError."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a whole number from {low} to {high}, got {quoted(value)}.") from None
    if not math.isfinite(number) or number != int(number) or not low <= number <= high:
        raise ValueError(f"{name} must be a whole number from {low} to {high}, got {quoted(value)}.")
    return int(number)


def real(value, name: str, low: float, high: float) -> float:
    """A finite float in [low, high]; else ValueError."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number from {low:g} to {high:g}, got {quoted(value)}.") from None
    if not math.isfinite(number) or not low <= number <= high:
        raise ValueError(f"{name} must be a number from {low:g} to {high:g}, got {quoted(value)}.")
    return number


def text(value, name: str, max_chars: int = MAX_TEXT_CHARS) -> str:
    """Stripped text of at most max_chars characters ('' for None); else ValueError naming the limit."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{name} must be text, got {type(value).__name__}.")
    stripped = value.strip()
    if len(stripped) > max_chars:
        raise ValueError(f"{name} is {len(stripped):,} characters; the limit is {max_chars:,}.")
    return stripped
