"""tenset-study: learned cost models for tensor-program auto-tuning across heterogeneous hardware."""

__version__ = "0.1.0"
