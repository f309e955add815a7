"""sluice on Spark and the Python module; a package so its conftest never shadows tests/e2e/conftest."""
