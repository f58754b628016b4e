"""The audit reports in one import: `RulesetDiff` / `ImpactReport` -> text, Markdown or JSON-ready data.

What a report says is worked out in `report.py`; each format is laid out by its own module.
"""
from __future__ import annotations

from .render_json import diff_data, impact_data, version_data
from .render_markdown import render_diff_markdown, render_impact_markdown
from .render_text import render_diff_text, render_impact_text

__all__ = ["diff_data", "impact_data", "version_data", "render_diff_markdown", "render_impact_markdown",
           "render_diff_text", "render_impact_text"]
