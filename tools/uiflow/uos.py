"""Stand-in for MicroPython's `uos` (ESP32 port, 1.11).

Paths under /flash (and /sd) go to the host folders installed with
uiflow_sim.install_flash(root); other paths are used as they are.  urandom() is
deterministic (seeded by the hub), uname() reports an ESP32 with MicroPython 1.11.
"""

import collections
import os as _os

from uiflow_sim import hub

class FsSim(object):
    """uos._sim: fat=True makes rename() onto an existing file fail with OSError(EEXIST),
    as FAT on the device's /flash does (remove the target first)."""

    def __init__(self):
        self.fat = True


_sim = FsSim()
_Uname = collections.namedtuple('uname_result', 'sysname nodename release version machine')
sep = '/'


def uname():
    return _Uname('esp32', 'esp32', '1.11.0', 'v1.11-284-g5d8e1c867 on 2019-08-30',
                  'ESP32 module with ESP32')


def urandom(n):
    return bytes(hub.rng.getrandbits(8) for _ in range(int(n)))


def listdir(path=''):
    return sorted(_os.listdir(hub.map_path(path) or '.'))


def ilistdir(path=''):
    base = hub.map_path(path) or '.'
    for name in sorted(_os.listdir(base)):
        full = _os.path.join(base, name)
        kind = 0x4000 if _os.path.isdir(full) else 0x8000
        size = 0 if kind == 0x4000 else _os.path.getsize(full)
        yield (name, kind, 0, size)


def stat(path):
    st = _os.stat(hub.map_path(path))
    return (st.st_mode, 0, 0, 0, 0, 0, st.st_size, int(st.st_mtime), int(st.st_mtime), int(st.st_mtime))


def statvfs(path):
    return (4096, 4096, 512, 400, 400, 0, 0, 0, 0, 255)


def remove(path):
    _os.remove(hub.map_path(path))


def rename(old, new):
    old, new = hub.map_path(old), hub.map_path(new)
    if _sim.fat and _os.path.exists(new):
        raise OSError(17, 'EEXIST')
    _os.replace(old, new)


def mkdir(path):
    _os.mkdir(hub.map_path(path))


def rmdir(path):
    _os.rmdir(hub.map_path(path))


def getcwd():
    cwd = _os.getcwd()
    for prefix, root in (('/flash', hub.flash_root), ('/sd', hub.sd_root)):
        if root and (cwd == root or cwd.startswith(root + _os.sep)):
            return prefix + cwd[len(root):].replace(_os.sep, '/')
    return cwd


def chdir(path):
    _os.chdir(hub.map_path(path))


def sync():
    return None
