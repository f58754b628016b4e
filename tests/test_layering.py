"""The engine keeps its shape: a one-way pipeline of packages, and no kmo-portefeuille fact in its Python."""
import ast
import re
from pathlib import Path

ENGINE = Path(__file__).resolve().parent.parent / "engine"

# The packages, earliest first: each may import the ones before it, never a later one.
PACKAGES = ["core", "source", "lang", "run", "audit", "present", "cli"]
# Inside a package, the modules in the same one-way order.
ORDER = {
    "core": ["span", "suggest", "diagnostics", "kinds", "typesys", "values", "nodes"],
    "source": ["load", "source", "case", "versions"],
    "lang": ["parse", "parsed", "check", "printer"],
    "run": ["usage", "compile", "interpret", "evaluate", "batch"],
    "audit": ["semantic_diff", "impact_analysis", "audit_render"],
    "present": ["render", "explain", "testing"],
    "cli": ["analyst", "audit", "main"],
}
TOP = {"pipeline": 3.5, "__init__": 99, "__main__": 99}  # the pipeline assembles source, lang and run


def _modules():
    for path in ENGINE.rglob("*.py"):
        if "__pycache__" in path.parts:
            continue
        package = path.parent.name if path.parent != ENGINE else ""
        yield package, path.stem, path


def _imports(path: Path, package: str) -> set[tuple[str, str]]:
    """(package, module) of each relative import."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.ImportFrom) or node.level == 0:
            continue
        parts = (node.module or "").split(".") if node.module else []
        if node.level == 1 and package:  # from .x import y: the same package
            found.add((package, parts[0]) if parts else (package, ""))
        elif (node.level == 2 and package) or (node.level == 1 and not package):
            if parts:
                found.add((parts[0], parts[1] if len(parts) > 1 else ""))
            else:
                found.update((alias.name, "") for alias in node.names)
    return found


def _rank(package: str, module: str) -> tuple:
    if package == "":
        return (TOP.get(module, 99), 0)
    index = PACKAGES.index(package)
    inner = ORDER[package].index(module) if module in ORDER[package] else -1
    return (index, inner)


def test_every_module_has_its_place_in_the_order():
    found = {(package, name) for package, name, _ in _modules() if name != "__init__" or package == ""}
    listed = {(p, m) for p, modules in ORDER.items() for m in modules} | {("", name) for name in TOP}
    assert found == listed


def test_no_module_imports_a_later_stage():
    wrong = []
    for package, name, path in _modules():
        if name == "__init__" and package:
            continue
        mine = _rank(package, name)
        for imported in _imports(path, package):
            if imported[0] in PACKAGES or imported[0] == "":
                theirs = _rank(*imported) if imported[0] else (TOP.get(imported[1], 99), 0)
                if imported[0] == package and theirs >= mine and imported[1]:
                    wrong.append(f"{package}/{name} imports {imported[1]} of its own package, a later module")
                elif imported[0] != package and theirs[0] > mine[0]:
                    wrong.append(f"{package or 'engine'}/{name} imports {'/'.join(i for i in imported if i)}")
    assert not wrong


def test_no_lark_tree_leaves_the_parser():
    users = [f"{p}/{n}" for p, n, path in _modules() if re.search(r"^\s*(import lark|from lark)", path.read_text(), re.M)]
    assert users == ["lang/parse"]


def test_every_grammar_alternative_has_a_transformer_method():
    from engine.lang.parse import _ToNodes
    grammar = (ENGINE / "lang" / "grammar.lark").read_text()
    aliases = set(re.findall(r"->\s*(\w+)", grammar))
    assert aliases and all(hasattr(_ToNodes, alias) for alias in aliases), aliases - set(dir(_ToNodes))


def test_the_python_code_knows_no_policy_fact():
    facts = re.compile(r"7[_ ]?500|300[_ ]?000|200[_ ]?000|0?\.45\b|0?\.35\b|cybersecurity|energy_efficiency|"
                       r"professional_competences|\bvzw\b|10[_ ]?000[_ ]?000|43[_ ]?000[_ ]?000|kmo-portefeuille\"|"
                       r"mindfulness|legal_form|flemish|\b14 days\b")
    hits = [f"{path.relative_to(ENGINE)}:{n}: {line.strip()}" for _, _, path in _modules()
            for n, line in enumerate(path.read_text().splitlines(), 1) if facts.search(line)]
    assert not hits, hits
