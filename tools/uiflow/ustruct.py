"""Stand-in for MicroPython's `ustruct`: CPython's struct under the u-name."""

from struct import calcsize, pack, pack_into, unpack, unpack_from  # noqa: F401
