"""runyard's faces: the `runyard` command line and the Textual app that follows runs live."""
