"""Browser tests against a real server process (Playwright + Debian chromium)."""
