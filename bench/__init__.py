"""Benchmarks of the bot against the sandbox API and the fake Bot API (see README.md)."""
