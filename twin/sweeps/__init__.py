"""Sweeps: many runs of the trainer or the twin over parameter axes and realizations."""

__all__: list[str] = []
