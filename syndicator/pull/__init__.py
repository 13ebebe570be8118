"""Pulling a source: the HTTP and file: fetcher, the pipeline (fetch, validate, extract,
store, adopt announced mirrors), the pull run that times and records it, and the scheduler."""
