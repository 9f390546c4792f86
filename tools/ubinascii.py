"""Host (CPython) stand-in for MicroPython's `ubinascii`, so device code and umqtt.simple import it unchanged."""
from binascii import *  # noqa: F403
