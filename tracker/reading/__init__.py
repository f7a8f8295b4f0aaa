"""The reading side: open one run (`api.open_run`) or list a tree (`scanner.scan`) in any layout, and the helpers
the faces share — filters, metric-name conventions, curve preparation, tails and the terminal-text sanitiser.

pandas and pyarrow are imported here, so nothing on the training side imports this package.
"""
