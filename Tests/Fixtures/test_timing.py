"""How much slower the suites run under a sanitizer, for the Python fixtures: the same factor as
Tests/TestSupport/TestTiming.swift. Timeouts that guard against a hang (a handshake, a reply)
scale by it, so a sanitizer's slowdown on a loaded two-core machine is not taken for a hang;
nothing here measures speed."""
import os

SLOWDOWN = 1 if os.environ.get("VIRTHOST_TEST_SANITIZER") is None else 4


def seconds(value):
    """A hang guard of `value` seconds, scaled."""
    return value * SLOWDOWN
