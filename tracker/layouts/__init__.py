"""Readers for each run layout runyard understands; `detect` asks each in turn which runs a folder holds."""
