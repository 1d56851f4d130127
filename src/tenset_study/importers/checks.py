"""Small checks the importers share: how deep decoded JSON nests, and short texts of bad values for messages."""

from __future__ import annotations

#: Deepest nesting of lists accepted in a line (a workload key, a step list, a tuning record).
MAX_NESTING = 32


def nesting_exceeds(value: object, limit: int) -> bool:
    """Whether lists or dicts nest more than ``limit`` deep in ``value`` (a list or dict is depth 1); no
    recursion, so any depth the JSON decoder accepted is measured."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if not isinstance(item, list):
            continue
        if depth > limit:
            return True
        stack.extend((v, depth + 1) for v in item if isinstance(v, (list, dict)))
    return False


def short_repr(value: object, limit: int = 40) -> str:
    """``repr(value)``, cut to ``limit`` characters (for messages about bad values)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
