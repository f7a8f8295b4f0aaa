"""The app's screens: the runs list, a run (or several) in detail, and help."""
