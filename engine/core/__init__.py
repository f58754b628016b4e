"""The shared vocabulary every stage speaks: spans, diagnostics, types, values, the AST, the kinds of definition."""
