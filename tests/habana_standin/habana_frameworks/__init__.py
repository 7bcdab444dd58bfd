"""A stand-in for Intel Gaudi's `habana_frameworks` package (tests only; no Gaudi card here)."""
