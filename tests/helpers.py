"""What many test files share: the command line run in memory, and a copy of the small rules."""
import copy
import io
import re
import shutil
from pathlib import Path

from engine.cli import run

MINI = Path(__file__).resolve().parent / "rule_errors" / "clean" / "rules"


def cli(*argv, stdin: str = "", stderr=None) -> tuple[int, str, str]:
    """`kmo-rules ARGV` with `stdin` as standard input -> (exit status, standard output, standard error)."""
    out, err = io.StringIO(), stderr if stderr is not None else io.StringIO()
    status = run([str(a) for a in argv], io.StringIO(stdin), out, err)
    return status, out.getvalue(), err.getvalue()


def mini_rules(tmp_path: Path, monkeypatch) -> Path:
    """A copy of the small rules of tests/rule_errors/clean, with their three tests; the working folder is
    its parent."""
    shutil.copytree(MINI, tmp_path / "rules")
    monkeypatch.chdir(tmp_path)
    return tmp_path / "rules" / "mini"


# -- English left in a Dutch explanation -----------------------------------------------------------------------

WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
CODE_IN_BRACKETS = re.compile(r"\[[a-z][a-z0-9_]+\]")  # [legal_form_excluded]; the marks [v], [x] and [!] are not codes


def english_left_in(text: str, english: set, case_path: re.Pattern) -> list[str]:
    """The words of `english`, reason codes in brackets and case paths (`case_path`, a scheme's) a Dutch text
    still holds, with their line."""
    found = []
    for line in text.splitlines():
        words = {w for w in WORD.findall(line) if w.lower() in english}
        codes = CODE_IN_BRACKETS.findall(line) + case_path.findall(line) + (["_"] if "_" in line else [])
        found += [f"{sorted(words) + codes}: {line.strip()}"] if words or codes else []
    return found


def explained(case_path: Path, scheme: str, lang: str, *extra: str) -> str:
    """The text explanation of a case file, as `kmo-rules evaluate --format text --explain` prints it; the
    command must succeed and say nothing on standard error."""
    status, out, err = cli("evaluate", case_path, "--scheme", scheme, "--format", "text", "--explain", "--lang",
                           lang, *extra)
    assert (status, err) == (0, "")
    return out


def with_changes(case: dict, changes: dict, separator: str = ".") -> dict:
    """A copy of a case with some fields set, each named by its path (`project.costs.fee`)."""
    made = copy.deepcopy(case)
    for path, value in changes.items():
        *parents, last = path.split(separator)
        target = made
        for part in parents:
            target = target.setdefault(part, {})
        target[last] = value
    return made
