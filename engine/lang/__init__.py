"""The rule language: grammar, parsing to the AST, names and types checked, and printing back."""
