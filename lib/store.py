"""Small JSON files on flash: the saved scan result, the billing baseline.

`JsonStore(path)` loads, saves and clears one small JSON document.  Saving writes a temporary
file and renames it over the old one, so a power cut leaves the old or the new document, never
half of one.  A file that does not parse is treated as absent (and reported by `error`).  It
writes only when the content changed: flash wears.  The path is handed in (on the device under
/flash); it never picks one itself.
"""

try:
    import ujson as json
except ImportError:
    import json
try:
    import uos as os
except ImportError:
    import os


class JsonStore:
    def __init__(self, path):
        self.path = path
        self.error = None
        self.writes = 0
        self._last = None

    def load(self):
        if not self.path:
            return None
        try:
            with open(self.path) as fh:
                text = fh.read()
        except OSError:
            # A power cut between removing the old file and the rename leaves only the new
            # one under its temporary name: finish the rename.
            try:
                with open(self.path + '.tmp') as fh:
                    text = fh.read()
                os.rename(self.path + '.tmp', self.path)
            except OSError:
                return None
        try:
            doc = json.loads(text)
        except ValueError:
            self.error = 'unreadable %s' % self.path
            return None
        self._last = text
        return doc

    def save(self, doc):
        if not self.path:
            return False
        text = json.dumps(doc)
        if text == self._last:
            return False
        tmp = self.path + '.tmp'
        try:
            with open(tmp, 'w') as fh:
                fh.write(text)
            try:
                os.remove(self.path)
            except OSError:
                pass
            os.rename(tmp, self.path)
        except OSError as e:
            self.error = 'cannot write %s: %s' % (self.path, e)
            return False
        self._last = text
        self.writes += 1
        return True

    def clear(self):
        self._last = None
        if not self.path:
            return
        try:
            os.remove(self.path)
        except OSError:
            pass
