"""Serving readers: the aiohttp routes, the hot path for rendered feeds, readiness, WebSub
pings. Never imports the pull stack."""
