"""The one compatibility shim between UIFlow's MicroPython 1.11/1.12 and CPython.

Device modules import `const`, hex helpers and struct from here instead of
scattering try/excepts.  It holds no state and touches no hardware.  It never
uses an API newer than MicroPython 1.11 (no bytes.hex(), no bytes.fromhex()).
"""

try:
    from micropython import const
except ImportError:  # CPython
    def const(value):
        return value

try:
    import ubinascii as _binascii
except ImportError:
    import binascii as _binascii

try:
    import ustruct as struct  # noqa: F401  (re-exported)
except ImportError:
    import struct  # noqa: F401


def hex_upper(data):
    """bytes -> 'ABCD' (uppercase, no separators)."""
    return _binascii.hexlify(data).decode().upper()


def unhex(text):
    """'abcd' / 'ABCD' (str or bytes) -> bytes.  Raises ValueError on odd length
    or a non-hex digit, on every port."""
    if isinstance(text, str):
        text = text.encode()
    if len(text) % 2:
        raise ValueError('odd-length hex')
    try:
        return _binascii.unhexlify(text)
    except Exception:
        raise ValueError('non-hex digit')


def is_hex(text):
    """True when text (str) is non-empty and only hex digits."""
    if not text:
        return False
    for c in text:
        if c not in '0123456789abcdefABCDEF':
            return False
    return True
