"""docs/analyst-guide.md as an analyst follows it: every command it shows is run, and must print what it shows.

The guide is followed from the top on a copy of the rules and schemas, as its first step says. Its files are
written as it writes them: a comment `<!-- guide: {write: PATH} -->` just before a ```yaml or ```json block
makes the test write that block to PATH (inside the copy); `<!-- guide: {edit: PATH, replace: OLD, by: NEW} -->`
makes a change the prose asks for, and `<!-- guide: {copy: PATH, to: PATH} -->` copies a file. Each ```console block is a list of commands (`$ kmo-rules
...`, possibly piped into head, tail, sed or grep) each followed by what it prints; the command is run (the
kmo-rules part in this process, the pipe by the shell) and its output must be the lines shown, to the
character. When the engine's output changes on purpose, rewrite the guide from it with
`pytest tests/test_guide.py --snapshot-update`, then read the diff of the guide as a reader would.
"""
from __future__ import annotations

import difflib
import io
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from engine.cli import run

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "analyst-guide.md"
SETUP = "mkdir /tmp/x && cp -r rules schemas /tmp/x/ && cd /tmp/x"
FENCE = re.compile(r"^```(\w*)\s*$")
DIRECTIVE = re.compile(r"^<!--\s*guide:\s*(.*?)\s*-->\s*$")


@dataclass
class Command:
    line: int                 # where the command is written (0-based line of the guide)
    text: str                 # what follows '$ '
    shown: list[str]          # the output the guide shows
    first: int                # the guide's lines [first, last) hold that output
    last: int


@dataclass
class Step:
    kind: str                 # "write", "edit", "copy" or "console"
    line: int
    path: str | None = None
    content: str | None = None
    replace: str | None = None
    by: str | None = None
    commands: list[Command] = field(default_factory=list)


def read_guide(lines: list[str]) -> list[Step]:
    """The guide's lines -> what to do, in order."""
    steps: list[Step] = []
    pending: dict | None = None  # a directive waiting for the block it names
    i = 0
    while i < len(lines):
        directive, fence = DIRECTIVE.match(lines[i]), FENCE.match(lines[i])
        if directive:
            order = yaml.safe_load(directive.group(1))
            assert isinstance(order, dict), f"line {i + 1}: a guide comment holds a mapping, such as {{write: PATH}}"
            if "edit" in order:
                steps.append(Step("edit", i, order["edit"], replace=order["replace"], by=order["by"]))
            elif "copy" in order:
                steps.append(Step("copy", i, order["copy"], by=order["to"]))
            else:
                assert set(order) == {"write"}, f"line {i + 1}: a guide comment says write:, edit: or copy:"
                pending = order
            i += 1
            continue
        if not fence:
            i += 1
            continue
        language, start = fence.group(1), i + 1
        end = next(j for j in range(start, len(lines)) if lines[j].startswith("```"))
        body = lines[start:end]
        if pending is not None:
            steps.append(Step("write", start - 1, pending["write"], content="\n".join(body) + "\n"))
            pending = None
        elif language == "console":
            step = Step("console", start - 1)
            at = [j for j in range(start, end) if lines[j].startswith("$ ")]
            for k, j in enumerate(at):
                stop = at[k + 1] if k + 1 < len(at) else end
                step.commands.append(Command(j, lines[j][2:], lines[j + 1:stop], j + 1, stop))
            steps.append(step)
        i = end + 1
    assert pending is None, "a guide comment {write: ...} is not followed by a block"
    return steps


def execute(command: str, folder: Path) -> str:
    """What `kmo-rules ...` (and the pipe after it) prints, as a terminal shows it."""
    head, pipe, tail = command.partition(" | ")
    argv = shlex.split(head)
    assert argv[0] == "kmo-rules", f"the guide runs only kmo-rules: {command}"
    out, err = io.StringIO(), io.StringIO()
    if not pipe:
        run(argv[1:], io.StringIO(), out, out)  # one stream: interleaved as on a terminal
        return out.getvalue()
    run(argv[1:], io.StringIO(), out, err)  # standard error does not go through the pipe
    piped = subprocess.run(["bash", "-c", tail], input=out.getvalue(), capture_output=True, text=True, cwd=folder,
                           check=False)  # grep finding nothing is no error
    assert not piped.stderr, f"{command}: {piped.stderr}"
    return err.getvalue() + piped.stdout


def _lines(text: str) -> list[str]:
    lines = [line.rstrip() for line in text.split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def test_the_guide_prints_what_it_shows(tmp_path, monkeypatch, request):
    """Follow the guide from its first step to its last; every command prints what the guide shows."""
    text = GUIDE.read_text(encoding="utf-8")
    assert SETUP in text, "the guide's first step copies the rules as this test does"
    lines = text.split("\n")
    work = tmp_path / "x"
    work.mkdir()
    shutil.copytree(ROOT / "rules", work / "rules")
    shutil.copytree(ROOT / "schemas", work / "schemas")
    monkeypatch.chdir(work)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    drifted: list[tuple[Command, list[str]]] = []
    for step in read_guide(lines):
        if step.kind == "write":
            path = work / step.path
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(step.content, encoding="utf-8")
        elif step.kind == "copy":
            shutil.copyfile(work / step.path, work / step.by)
        elif step.kind == "edit":
            path = work / step.path
            old = path.read_text(encoding="utf-8")
            assert old.count(step.replace) == 1, f"line {step.line + 1}: {step.replace!r} must occur once in {step.path}"
            path.write_text(old.replace(step.replace, step.by), encoding="utf-8")
        else:
            for command in step.commands:
                printed = _lines(execute(command.text, work))
                if printed != _lines("\n".join(command.shown)):
                    drifted.append((command, printed))
    if drifted and getattr(request.config.option, "snapshot_update", False):
        for command, printed in sorted(drifted, key=lambda d: -d[0].first):
            lines[command.first:command.last] = printed + ([""] if command.last < len(lines)
                                                           and not lines[command.last].startswith("```") else [])
        GUIDE.write_text("\n".join(lines), encoding="utf-8")
        pytest.fail(f"{len(drifted)} outputs of docs/analyst-guide.md rewritten from the real ones: read the diff")
    report = []
    for command, printed in drifted:
        diff = difflib.unified_diff(_lines("\n".join(command.shown)), printed, "the guide shows", "the command prints",
                                    lineterm="", n=2)
        report.append(f"docs/analyst-guide.md:{command.line + 1}: $ {command.text}\n" + "\n".join(diff))
    assert not drifted, "the guide has drifted from what the commands print (update it with " \
                        "pytest tests/test_guide.py --snapshot-update, then read the diff):\n\n" + "\n\n".join(report)


def test_every_command_the_guide_shows_is_one_the_test_runs():
    """A command with its output written in a block that is not ```console would escape the check."""
    lines = GUIDE.read_text(encoding="utf-8").split("\n")
    language = None
    for number, line in enumerate(lines, 1):
        fence = FENCE.match(line)
        if fence and language is None:
            language = fence.group(1)
        elif line.startswith("```"):
            language = None
        elif language is not None and line.startswith("$ "):
            assert language == "console", f"docs/analyst-guide.md:{number}: a command outside a ```console block"
            assert line.startswith("$ kmo-rules "), f"docs/analyst-guide.md:{number}: the guide shows only kmo-rules"
    steps = read_guide(lines)
    assert sum(len(step.commands) for step in steps if step.kind == "console") >= 10
