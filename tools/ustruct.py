"""Host (CPython) stand-in for MicroPython's `ustruct`, so device code and umqtt.simple import it unchanged."""
from struct import *  # noqa: F403
