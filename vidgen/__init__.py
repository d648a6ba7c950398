"""vidgen: open, local-first AI video generation."""

__version__ = "0.1.0"
