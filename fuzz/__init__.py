"""End-to-end fuzzing against real servers: `python -m fuzz --help`."""
