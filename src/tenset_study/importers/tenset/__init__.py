"""importers.tenset."""
