"""`python -m runyard.tui.cli`: the `runyard` command without its console script."""

from . import main

raise SystemExit(main())
