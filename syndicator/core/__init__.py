"""The pure core: the config model, articles and candidates, errors, and identity (normal form,
content hash, SimHash, GUID). Imports no HTTP client, server or database library."""
