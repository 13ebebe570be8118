"""Documents out: RSS, Atom and JSON Feed, archive pages, HTML index and section pages, OPML,
the cache of rendered documents, and the static export. Never imports the pull stack."""
