"""Stand-in for MicroPython's `micropython` module (const, schedule, mem_info, ...).

`const` is the identity.  `schedule(fn, arg)` queues fn(arg) for the next tick point of the
simulation (utime.sleep*, machine.idle), with the device's queue depth of 8.  mem_info()
prints the simulated heap that gc.mem_free()/gc.mem_alloc() report (uiflow_sim.hub.mem_free).
"""

from uiflow_sim import hub

_opt_level = [0]


def const(value):
    return value


def schedule(fn, arg):
    hub.schedule(fn, arg)


def mem_info(verbose=None):
    free = hub.mem_free_value()
    used = hub.mem_alloc_value()
    print('stack: 736 out of 15360')
    print('GC: total: %d, used: %d, free: %d' % (free + used, used, free))
    print(' No. of 1-blocks: 0, 2-blocks: 0, max blk sz: 0, max free sz: %d' % (free // 16))


def qstr_info(verbose=None):
    print('qstr pool: n_pool=0, n_qstr=0, n_str_data_bytes=0, n_total_bytes=0')


def stack_use():
    return 736


def opt_level(level=None):
    if level is None:
        return _opt_level[0]
    _opt_level[0] = int(level)
    return None


def alloc_emergency_exception_buf(size):
    return None


def heap_lock():
    return 0


def heap_unlock():
    return 0


def kbd_intr(char):
    return None
