"""Helpers that run real SIP clients (baresip, linphonec) headless against sipd in integration tests."""
