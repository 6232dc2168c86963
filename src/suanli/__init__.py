"""suanli (算力): a city-level compute-power scheduling and service platform."""

__version__ = "0.1.0"
