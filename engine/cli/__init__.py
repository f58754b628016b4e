"""The `kmo-rules` command line: a thin layer over the Python API."""
from .main import main, run

__all__ = ["main", "run"]
