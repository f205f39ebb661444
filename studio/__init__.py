"""Studio: a native desktop studio for machine-learning experiments."""

__version__ = "0.1.0"
