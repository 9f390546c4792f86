"""lib/store.py: small JSON files on flash that survive power cuts."""
import os

from store import JsonStore

BASE = '/tmp/smm_store_test'


def _fresh(name):
    try:
        os.mkdir(BASE)
    except OSError:
        pass
    path = BASE + '/' + name
    for p in (path, path + '.tmp'):
        try:
            os.remove(p)
        except OSError:
            pass
    return path


def test_save_load_and_no_rewrite_when_unchanged():
    path = _fresh('a.json')
    st = JsonStore(path)
    assert st.load() is None
    assert st.save({'count': 1})
    assert not st.save({'count': 1})          # flash wears: same content, no write
    assert st.writes == 1
    assert JsonStore(path).load() == {'count': 1}


def test_power_cut_between_remove_and_rename_keeps_the_new_document():
    path = _fresh('b.json')
    JsonStore(path).save({'v': 1})
    # what a cut leaves: the old file removed, the new one under its temporary name
    with open(path + '.tmp', 'w') as fh:
        fh.write('{"v": 2}')
    os.remove(path)
    assert JsonStore(path).load() == {'v': 2}
    assert JsonStore(path).load() == {'v': 2}  # and the rename was finished


def test_unreadable_file_is_absent_with_an_error():
    path = _fresh('c.json')
    with open(path, 'w') as fh:
        fh.write('{broken')
    st = JsonStore(path)
    assert st.load() is None and 'unreadable' in st.error


def test_clear_and_no_path():
    path = _fresh('d.json')
    st = JsonStore(path)
    st.save({'x': 1})
    st.clear()
    assert JsonStore(path).load() is None
    off = JsonStore(None)
    assert off.load() is None and not off.save({'x': 1})
