"""Figures of the seed paper regenerated from sweeps (placeholder until the figures framework)."""

__all__: list[str] = []
