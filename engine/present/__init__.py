"""For people: explanations, diagnostics with the source line, and the test runner's report."""
