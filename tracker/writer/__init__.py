"""The training side: `init` starts a run and `Run` writes its folder (contract in `runyard.contract`).

Cheap to import inside a training job: the standard library, orjson and PyYAML (the latter only when a config
is resolved). Nothing here imports the reading side, pandas, or any of the app's libraries.
"""
