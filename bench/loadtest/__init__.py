"""The load test's parts (bench/load.py runs it): settings, servers, seed, users, measure,
report. The settings come first: they set the environment the app is then built in."""
from bench.loadtest import settings  # noqa: F401 - before any part imports the app
