"""Shared fixtures: the checkout's engine (not an older installed copy) and the bundled rules."""
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
# the synthetic corpus and the hand-written yardstick live beside the benchmarks
if str(ROOT / "benchmarks") not in sys.path:
    sys.path.insert(1, str(ROOT / "benchmarks"))

from engine.pipeline import open_rules  # noqa: E402


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def book():
    """Every version of the bundled rules, each built once per test session."""
    return open_rules(ROOT / "rules")
