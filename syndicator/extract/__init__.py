"""From a fetched page to a store candidate: validate (seizure and broken pages), extract the
article, read its metadata, strip boilerplate, sanitise, and build the candidate. Pure."""
