"""Reading rules folders: YAML with positions, shapes, the case schema, versions and change files."""
