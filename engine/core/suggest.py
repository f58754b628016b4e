"""Did you mean: the one place that finds the closest known name to a mistyped one."""
from __future__ import annotations

import difflib
from typing import Iterable


def closest(word: object, known: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The known name most like `word`, if any is close enough."""
    if not isinstance(word, str):
        return None
    found = difflib.get_close_matches(word, sorted(set(known)), n=1, cutoff=cutoff)
    return found[0] if found else None


def did_you_mean(word: object, known: Iterable[str], cutoff: float = 0.6) -> str | None:
    """`did you mean 'x'?`, or None."""
    found = closest(word, known, cutoff)
    return f"did you mean '{found}'?" if found else None
