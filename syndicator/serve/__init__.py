"""Process models of `syndicate serve`: the single-process service, worker and web roles of a
cluster, `--workers N` supervision, and what a config reload changes."""
