"""nbhd: outcomes metrics and maturity-matrix reporting for integrated primary care."""

__version__ = "0.1.0"
