"""pytest set-up: device modules (lib/) and host tools (tools/) import by bare name, as on the
device."""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for sub in ("lib", "tools"):
    path = os.path.join(ROOT, sub)
    if path not in sys.path:
        sys.path.insert(0, path)
os.chdir(ROOT)
