"""syndicator: one stable feed per section from a publisher's many mirror domains."""

__version__ = "0.1.0"
