"""The loops that move records from the log into the views, exactly once."""

from consumers.runner import ProjectionRunner

__all__ = ["ProjectionRunner"]
