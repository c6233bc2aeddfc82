"""Small helpers shared by every layer: atomic I/O, safe loading, devices, errors."""
