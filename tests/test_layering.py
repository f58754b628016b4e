"""The engine keeps its shape: a one-way pipeline, and no kmo-portefeuille fact in its Python."""
import ast
import re
from pathlib import Path

ENGINE = Path(__file__).resolve().parent.parent / "engine"

# Each stage may import the shared vocabulary and earlier stages, never later ones.
ORDER = ["span", "diagnostics", "typesys", "values", "nodes", "load", "source", "versions", "parse", "parsed",
         "case", "check", "usage", "compile", "interpret", "evaluate", "printer", "batch", "pipeline", "explain", "testing",
         "semantic_diff", "impact_analysis", "audit_render", "render", "analyst_cli", "audit_cli", "cli"]


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(alias.name for alias in node.names)
    return found


def test_every_module_has_its_place_in_the_order():
    modules = {p.stem for p in ENGINE.glob("*.py")} - {"__init__", "__main__"}
    assert modules == set(ORDER)


def test_no_module_imports_a_later_stage():
    position = {name: i for i, name in enumerate(ORDER)}
    wrong = []
    for path in ENGINE.glob("*.py"):
        name = path.stem
        if name not in position:
            continue
        for imported in _imports(path):
            if imported in position and position[imported] > position[name]:
                wrong.append(f"{name} imports {imported}")
    assert not wrong


def test_no_lark_tree_leaves_the_parser():
    users = [p.stem for p in ENGINE.glob("*.py") if re.search(r"^\s*(import lark|from lark)", p.read_text(), re.M)]
    assert users == ["parse"]


def test_every_grammar_alternative_has_a_transformer_method():
    from engine.parse import _ToNodes
    grammar = (ENGINE / "grammar.lark").read_text()
    aliases = set(re.findall(r"->\s*(\w+)", grammar))
    assert aliases and all(hasattr(_ToNodes, alias) for alias in aliases), aliases - set(dir(_ToNodes))


def test_the_python_code_knows_no_policy_fact():
    facts = re.compile(r"7[_ ]?500|300[_ ]?000|200[_ ]?000|0?\.45\b|0?\.35\b|cybersecurity|energy_efficiency|"
                       r"professional_competences|\bvzw\b|10[_ ]?000[_ ]?000|43[_ ]?000[_ ]?000|kmo-portefeuille\"|"
                       r"mindfulness|legal_form|flemish|\b14 days\b")
    hits = [f"{p.name}:{n}: {line.strip()}" for p in ENGINE.glob("*.py")
            for n, line in enumerate(p.read_text().splitlines(), 1) if facts.search(line)]
    assert not hits, hits
