"""What checking a version gives: its parameters, tables and definitions, checked, and the side tables.

`CheckedRuleSet` is what every later stage reads. `ERROR` is the type of an
expression already reported as wrong: whatever contains it is not reported
again. `Problems` collects the diagnostics of one check, in the order found.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..core import nodes
from ..core import typesys as T
from ..core.diagnostics import Diagnostic
from ..core.span import Span
from ..source.case import CaseModel
from ..source.source import RuleSource
from .bindings import Binding
from .builtins import Overload
from .parsed import Template

ERROR = T.Scalar("error")  # the type of an expression already reported as wrong


class Problems(list):
    """The diagnostics found so far; `error` adds one and gives ERROR, the type of what it was about."""

    def error(self, code: str, message: str, span: Span, hint: str | None = None):
        self.append(Diagnostic(code, message, span, hint))
        return ERROR


@dataclass(frozen=True)
class Parameter:
    name: str
    value: object
    type: object
    span: Span
    source: str
    label: dict
    changed_in: str
    text: str
    assumption: str | None = None


@dataclass(frozen=True)
class TableDef:
    name: str
    type: T.Table
    rows: dict  # key -> {column: value}
    key_prefix: bool
    source: str
    span: Span
    changed_in: str
    sample: str | None = None
    row_versions: dict = field(default_factory=dict)
    key: str | None = None  # the case field whose values are its keys, as written
    assumption: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class Definition:
    """A rule, condition, note, input check or output, checked: expression, type, uses."""

    name: str
    kind: str  # rule, condition, note, input_check, output
    expr: nodes.Expr
    type: object
    span: Span
    source: str
    label: dict
    messages: dict[str, Template]
    changed_in: str
    text: str
    uses: tuple[str, ...]  # names of rules, parameters, case fields and tables it reads
    uses_eligible: bool = False
    path: str | None = None  # for input checks: the JSON path to report
    assumption: str | None = None


@dataclass(frozen=True)
class CheckedRuleSet:
    """A version proved sound: every name bound, every expression typed, an evaluation order."""

    source: RuleSource
    case_model: CaseModel
    parameters: dict[str, Parameter]
    tables: dict[str, TableDef]
    rules: dict[str, Definition]  # in an order where each rule follows what it uses
    conditions: dict[str, Definition]
    notes: dict[str, Definition]
    input_checks: dict[str, Definition]
    outputs: dict[str, Definition]
    types: dict[int, object] = field(repr=False)
    bindings: dict[int, Binding] = field(repr=False)
    warnings: tuple[Diagnostic, ...] = ()
    overloads: dict[int, Overload] = field(default_factory=dict, repr=False)  # of each operator, call, aggregate
