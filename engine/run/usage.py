"""What a decision depended on: checked rules x the branches one evaluation took -> names read.

`if`, `and`, `or` and `coalesce` read only what their outcome needed: a
parameter on a branch the case did not take was not used. When an
explanation is asked for, the reference interpreter decides the case again
with an observer that notes those outcomes (`branches_taken`); this module
walks the checked expressions with them, so explanations and test coverage
show what really counted.
"""
from __future__ import annotations

from ..core import nodes
from ..lang.bindings import InputRef, ParameterRef, RuleRef, TableRef
from ..lang.builtins import FUNCTIONS
from ..lang.check import CheckedRuleSet
from .interpret import interpret


def _children(expr) -> tuple:
    match expr:
        case nodes.Index(subject=a, key=b) | nodes.Binary(left=a, right=b) | nodes.Compare(left=a, right=b) | \
                nodes.Member(item=a, container=b):
            return (a, b)
        case nodes.Negate(operand=a) | nodes.Not(operand=a):
            return (a,)
        case nodes.Call(args=args):
            return tuple(args)
        case nodes.ListOf(items=items):
            return tuple(items)
    return ()


def _falls_back(function: str) -> bool:
    """Whether a function's arguments after the first count only when the first is null (coalesce)."""
    builtin = FUNCTIONS.get(function)
    return builtin is not None and builtin.fallback


def _dotted(expr) -> str:
    if isinstance(expr, nodes.Field):
        return f"{_dotted(expr.subject)}.{expr.name}"
    return expr.name


class _Walk:
    def __init__(self, checked: CheckedRuleSet, taken: dict | None):
        self.bindings = checked.bindings
        self.taken = taken  # branch_key(node) -> the outcome that decided it (branches_taken); None: every name counts

    def outcome(self, expr):
        return None if self.taken is None else self.taken.get(branch_key(expr))

    def names(self, expr, out: set, inside_loop: bool = False) -> None:
        binding = self.bindings.get(id(expr))
        match expr:
            case nodes.Name(name=name):
                if isinstance(binding, InputRef):
                    out.add(name)
                elif isinstance(binding, (TableRef, RuleRef, ParameterRef)):
                    out.add(binding.name)  # inside a module, `work_units` is its rule sme.work_units
            case nodes.Field(subject=subject):
                if isinstance(binding, ParameterRef):
                    out.add(binding.name)
                    return
                root = subject
                while isinstance(root, nodes.Field):
                    root = root.subject
                if isinstance(root, nodes.Name) and isinstance(self.bindings.get(id(root)), InputRef):
                    out.add(_dotted(expr))
                else:
                    self.names(subject, out, inside_loop)
            case nodes.And(left=left, right=right) | nodes.Or(left=left, right=right):
                self.names(left, out, inside_loop)
                decided = None if inside_loop else self.outcome(expr)
                # `a and b` needs b only when a held; `a or b` only when a did not
                if decided is None or bool(decided) == isinstance(expr, nodes.And):
                    self.names(right, out, inside_loop)
            case nodes.If(condition=condition, then=then, otherwise=otherwise):
                self.names(condition, out, inside_loop)
                decided = None if inside_loop else self.outcome(expr)
                for branch, wanted in ((then, True), (otherwise, False)):
                    if decided is None or bool(decided) == wanted:
                        self.names(branch, out, inside_loop)
            case nodes.Call(function=function, args=(first, *rest)) if _falls_back(function):
                self.names(first, out, inside_loop)
                decided = None if inside_loop else self.outcome(expr)  # True: the first was null
                if decided is None or decided:
                    for later in rest:
                        self.names(later, out, inside_loop)
            case nodes.Aggregate(body=body, source=source, filter=condition):
                self.names(source, out, inside_loop)
                for part in (body, condition):
                    if part is not None:
                        self.names(part, out, True)  # per item outcomes differ: count every name
            case _:
                for child in _children(expr):
                    self.names(child, out, inside_loop)


def branch_key(expr) -> int:
    """The key under which `branches_taken` notes how a branch went."""
    return id(expr)


def branches_taken(checked: CheckedRuleSet, case: dict) -> dict[int, bool]:
    """How each branch the case reached went, keyed by `branch_key`: the condition of an `if` or the left of
    an `and` / `or` held, or a `coalesce` fell back to its default (its first argument was null).

    The reference interpreter decides the converted case with an observer;
    inside an aggregate the last item that reached a branch is what is kept.
    """
    taken: dict[int, bool] = {}

    def observe(expr, outcome: bool) -> None:
        taken[branch_key(expr)] = outcome

    interpret(checked, case, observe)
    return taken


class Usage:
    """What each definition of a version depended on, for given branch outcomes; remembered per combination.

    A definition's names depend only on how its own branches went, and cases
    repeat the same few combinations, so each is worked out once.
    """

    def __init__(self, checked: CheckedRuleSet):
        self.checked = checked
        self.walk = _Walk(checked, None)
        self.definitions = []  # (key, expression, message parts, branch keys)
        for kind, section in (("rule", checked.rules), ("condition", checked.conditions), ("note", checked.notes),
                              ("output", checked.outputs)):
            for name, definition in section.items():
                parts = tuple(part for template in definition.messages.values() for part in template.parts
                              if not isinstance(part, str)) if kind in ("condition", "note") else ()
                branches = tuple(_branches(definition.expr)) + tuple(b for part in parts for b in _branches(part))
                self.definitions.append((f"{kind}:{name}", definition.expr, parts, branches))
        self.known: dict[tuple, tuple[str, ...]] = {}

    def depends(self, taken: dict | None, values: tuple, index: dict) -> dict[str, tuple[str, ...]]:
        """For each definition ("rule:x", "condition:y", ...), the names its value depended on.

        A failed condition or an applying note also depends on what its message shows.
        """
        out = {}
        for key, expr, parts, branches in self.definitions:
            shows_message = bool(parts) and bool(values[index[key]])
            outcomes = None if taken is None else tuple(taken.get(b) for b in branches)
            memo = (key, outcomes, shows_message)
            found = self.known.get(memo) if outcomes is not None else None
            if found is None:
                self.walk.taken = taken
                names: set = set()
                self.walk.names(expr, names)
                if shows_message:
                    for part in parts:
                        self.walk.names(part, names)
                found = tuple(sorted(names))
                if outcomes is not None:
                    self.known[memo] = found
            out[key] = found
        return out


def _branches(expr, inside_loop: bool = False):
    """The keys of the branch nodes whose outcome decides which names an expression reads."""
    if isinstance(expr, (nodes.If, nodes.And, nodes.Or)) or (
            isinstance(expr, nodes.Call) and _falls_back(expr.function)):
        if not inside_loop:
            yield branch_key(expr)
    match expr:
        case nodes.If(condition=a, then=b, otherwise=c):
            children = (a, b, c)
        case nodes.And(left=a, right=b) | nodes.Or(left=a, right=b):
            children = (a, b)
        case nodes.Field(subject=a):
            children = (a,)
        case nodes.Aggregate(body=body, source=source, filter=condition):
            yield from _branches(source, inside_loop)
            for part in (body, condition):
                if part is not None:
                    yield from _branches(part, True)
            return
        case _:
            children = _children(expr)
    for child in children:
        yield from _branches(child, inside_loop)
