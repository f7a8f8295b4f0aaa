"""Operations on runs: headless functions that take runs (records or views) and return plain results.

Comparison, archiving, cleanup and best checkpoints live here, not in the faces: the app and the command line
only ask, show and confirm. Only this package changes a runs tree.
"""
