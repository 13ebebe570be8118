"""The operator's side: the command line, terminal tables, status reports, metrics, logs and
site discovery. Nothing imports the command line."""
