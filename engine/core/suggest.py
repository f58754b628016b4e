"""Did you mean: the one place that finds the closest known name to a mistyped one."""
from __future__ import annotations

import difflib
from typing import Iterable


def closest(word: object, known: Iterable[str], cutoff: float = 0.6, *, longest: int | None = None,
            among: int | None = None) -> str | None:
    """The known name most like `word`, if any is close enough; none for a word longer than `longest`
    characters or among more than `among` known names (each suggestion compares with every name)."""
    if not isinstance(word, str) or (longest is not None and len(word) > longest):
        return None
    if among is not None:
        known = known if hasattr(known, "__len__") else list(known)
        if len(known) > among:
            return None
    found = difflib.get_close_matches(word, known, n=1, cutoff=cutoff)  # the best, whatever the order of names
    return found[0] if found else None


def did_you_mean(word: object, known: Iterable[str], cutoff: float = 0.6, *, longest: int | None = None,
                 among: int | None = None) -> str | None:
    """`did you mean 'x'?`, or None."""
    found = closest(word, known, cutoff, longest=longest, among=among)
    return f"did you mean '{found}'?" if found is not None else None
