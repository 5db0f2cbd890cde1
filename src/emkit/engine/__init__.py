"""The EM driver and data sources shared by every model."""
