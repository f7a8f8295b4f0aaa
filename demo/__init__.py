"""The bundled demo: a small character-level transformer trained on runyard's own source files."""
