"""Mirrors: health states and the circuit breaker, the alternate addresses a page announces,
where published links point, and the mirror report the CLI, API and pages show."""
