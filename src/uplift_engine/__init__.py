"""Uplift Engine: which customer should get which promotion, if any."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("uplift-engine")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
