"""See the package docstring of learnledger."""
