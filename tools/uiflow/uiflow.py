"""Stand-in for UIFlow's `uiflow` helpers that generated apps import: wait() / wait_ms()."""

import utime


def wait(seconds):
    utime.sleep(seconds)


def wait_ms(ms):
    utime.sleep_ms(int(ms))
