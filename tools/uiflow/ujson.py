"""Stand-in for MicroPython's `ujson` (1.11): dumps/loads/dump/load only.

dumps() takes just the object (no indent/separators in 1.11) and writes non-ASCII text as
UTF-8, not \\u escapes, as the device does.  Bad input raises ValueError.
"""

import json as _json


def dumps(obj):
    return _json.dumps(obj, ensure_ascii=False)


def dump(obj, stream):
    stream.write(dumps(obj))


def loads(text):
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode('utf-8')
    try:
        return _json.loads(text)
    except _json.JSONDecodeError as exc:
        raise ValueError('syntax error in JSON: %s' % exc) from None


def load(stream):
    return loads(stream.read())
