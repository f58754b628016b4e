"""The engine keeps its shape: a one-way pipeline of packages, and no kmo-portefeuille fact in its Python."""
import ast
import re
from pathlib import Path

ENGINE = Path(__file__).resolve().parent.parent / "engine"

# The packages, earliest first: each may import the ones before it, never a later one.
PACKAGES = ["core", "source", "lang", "run", "audit", "present", "serve", "cli"]
# Inside a package, the modules in the same one-way order.
ORDER = {
    "core": ["span", "suggest", "diagnostics", "kinds", "typesys", "values", "nodes"],
    "source": ["load", "source", "case", "versions", "catalog", "compose"],
    "lang": ["literals", "grammar", "parse", "parsed", "bindings", "builtins", "checked", "resolve", "narrow", "constants", "checks", "check",
             "printer"],
    "run": ["compile", "interpret", "usage", "evaluate", "workers", "batch"],
    "audit": ["semantic_diff", "impact_analysis", "report", "render_text", "render_markdown", "render_json", "audit_render",
              "replay"],
    "present": ["render", "explain", "testing", "mutate"],
    "serve": ["decision_log", "form", "openapi", "problems", "settings", "testcase", "backend", "http", "views", "api",
              "pages", "app", "command"],
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
    assert users == ["lang/grammar"]


def test_every_grammar_alternative_has_a_transformer_method():
    from engine.lang.grammar import _ToNodes
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


# Parsing (lang/parse, lang/parsed) is the last stage that opens the YAML a rule file was loaded into (the
# `.data` of an item or a row); every later one reads typed definitions. present/testing reads test files,
# its own input, not rule definitions.
_READS_ITS_OWN_YAML = {("present", "testing")}
_YAML_MAPPINGS = re.compile(r"\bPosDict\b|\bPosList\b|\.value_locs\b|\.key_spans\b|\.data\b")
_MAPPING_READERS = {"PosDict", "PosList", "RuleFile", "read_yaml", "load_rule_file", "check_shape", "locate",
                    "key_span"}


def _imports_mappings_from_load(path: Path, package: str) -> bool:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import) and any(alias.name == "engine.source.load" for alias in node.names):
            return True
        if isinstance(node, ast.ImportFrom):
            module = (node.module or "").split(".")
            from_load = (node.level == 0 and module == ["engine", "source", "load"]) or \
                (node.level == 2 and module == ["source", "load"]) or (node.level == 1 and package == "source"
                                                                        and module == ["load"])
            if from_load and any(alias.name in _MAPPING_READERS or alias.name == "*" for alias in node.names):
                return True
    return False


def test_no_stage_after_parsing_reads_yaml_mappings():
    later = ("run", "audit", "present", "cli")
    wrong = []
    for package, name, path in _modules():
        after = package in later or (package == "lang" and name not in ("parse", "parsed"))
        if not after or (package, name) in _READS_ITS_OWN_YAML:
            continue
        text = path.read_text()
        if _YAML_MAPPINGS.search(text):
            wrong.append(f"{package}/{name} mentions {_YAML_MAPPINGS.search(text).group(0)}")
        if _imports_mappings_from_load(path, package):
            wrong.append(f"{package}/{name} imports a YAML mapping reader from source/load")
    assert not wrong, wrong


def test_the_kinds_of_definition_are_listed_only_in_core_kinds():
    from engine.core.kinds import SECTIONS
    sections = set(SECTIONS)
    wrong = []
    for package, name, path in _modules():
        if (package, name) == ("core", "kinds"):
            continue
        text = path.read_text()
        if re.search(r"\(\s*[\"']parameters[\"'],\s*[\"']tables[\"'],\s*[\"']rules[\"']", text):
            wrong.append(f"{package}/{name} lists the sections")
        for node in ast.walk(ast.parse(text)):
            if not isinstance(node, (ast.Tuple, ast.List, ast.Set)):
                continue
            named = {e.value for e in node.elts if isinstance(e, ast.Constant) and e.value in sections}
            paired = {e.elts[0].value for e in node.elts if isinstance(e, (ast.Tuple, ast.List)) and e.elts
                      and isinstance(e.elts[0], ast.Constant) and e.elts[0].value in sections}
            if len(named) >= 3 or len(paired) >= 3:
                wrong.append(f"{package}/{name}:{node.lineno} lists {', '.join(sorted(named or paired))}")
    assert not wrong, wrong
