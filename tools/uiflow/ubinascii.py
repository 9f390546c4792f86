"""Stand-in for MicroPython's `ubinascii`: CPython's binascii under the u-name."""

from binascii import a2b_base64, b2a_base64, crc32, hexlify, unhexlify  # noqa: F401
