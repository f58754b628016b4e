"""What a name in an expression stands for, as the checker bound it.

The checker keeps one of these per bound node in `CheckedRuleSet.bindings`
(keyed by node identity); the compiler, the interpreter and the usage walk
match on them by class, never by a string. All are frozen dataclasses; the
named kinds share one (`_Named`), which keeps the import cheap.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class InputRef:
    """A field of the case: `application_date`, the root of `project.costs.fee`."""

    path: str


@dataclass(frozen=True, slots=True)
class _Named:
    """A binding to something by its name. Each kind below is its own class: equal only to its own kind."""

    name: str


class ParameterRef(_Named):
    """A parameter, by its dotted name (`rates.small`), whether written as one name or a chain of fields."""

    __slots__ = ()


class ParameterGroupRef(_Named):
    """A group of parameters (`rates` in `rates.small`): only a step towards a parameter."""

    __slots__ = ()


class TableRef(_Named):
    """A table of the ruleset."""

    __slots__ = ()


class RuleRef(_Named):
    """A rule of the ruleset."""

    __slots__ = ()


class LoopVariable(_Named):
    """The variable of an aggregate: `x` in `sum(x.amount for x in ...)`."""

    __slots__ = ()


class EnumValue(_Named):
    """A bare word read as a value of the enum it is compared with (`training`)."""

    __slots__ = ()


class RecordField(_Named):
    """A field of a record: of the case, of a table row or of a loop variable's item."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class EligibleRef:
    """`eligible`: true when no condition fails."""


Binding = InputRef | ParameterRef | ParameterGroupRef | TableRef | RuleRef | LoopVariable | EnumValue | EligibleRef | \
    RecordField
