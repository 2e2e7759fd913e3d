"""Local mode: the whole API on localhost over an embedded moto, driven by template.yaml.

Needs the `local` extra (moto, PyYAML).
"""
