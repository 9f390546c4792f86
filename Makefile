# SmartMeter: the commands a developer types.  `make sim` and `make test` are the quick start.
PY := .venv/bin/python
PORT ?= /dev/ttyUSB0
# make deploy precompiles for the MicroPython the device reports; MPY=1.11|1.12 names it.
MPY_SET := $(MPY)
MPY ?= 1.11

.PHONY: setup test gate pytest mptest footprint sim bench deploy monitor mpy clean screens

setup:
	@sh tools/setup.sh

# 1. device-code gate (mpy-cross 1.11 + lint)  2. pytest on CPython  3. device tests on real
# MicroPython  4. the heap footprint against the M5StickC's budgets (fails when one is exceeded)
test: setup
	@echo "== 1/4 device-code gate (mpy-cross -c 1.11 + lint)"
	@$(PY) tools/gate.py
	@echo "== 2/4 pytest (CPython)"
	@$(PY) -m pytest -q tests
	@echo "== 3/4 device tests under MicroPython (WebAssembly)"
	@node tools/mp_test.mjs
	@echo "== 4/4 heap footprint under MicroPython (the budgets of a real M5StickC)"
	@$(PY) tools/footprint.py --minimal-hours 2

footprint: setup
	@$(PY) tools/footprint.py

gate: setup
	@$(PY) tools/gate.py

pytest: setup
	@$(PY) -m pytest -q tests

mptest: setup
	@node tools/mp_test.mjs

sim: setup
	@$(PY) tools/sim.py $(SIMARGS)

bench: setup
	@$(PY) tools/bench.py

deploy: setup
	@$(PY) tools/deploy.py --port $(PORT) $(if $(FORCE),--force,) $(if $(SOURCE),--source,$(if $(MPY_SET),--mpy $(MPY),))

monitor: setup
	@$(PY) -m serial.tools.miniterm $(PORT) 115200

mpy: setup
	@$(PY) tools/deploy.py --mpy $(MPY) --build-only

clean:
	rm -rf build .pytest_cache

# Pictures of the simulated screen used in README.md (main page, chart page, diagnostics page).
screens: setup
	@$(PY) tools/sim.py --seconds 600 --png build/sim/main.png --report /dev/null
	@$(PY) tools/sim.py --seconds 2000 --press b@1990 --png build/sim/chart.png --report /dev/null
	@$(PY) tools/sim.py --seconds 2000 --press b@1980,b@1990 --png build/sim/diag.png --report /dev/null
	@$(PY) -c "from PIL import Image; [(Image.open('build/sim/%s.png' % n).save('docs/screen-%s.png' % n), Image.open('build/sim/%s.png' % n).resize((480, 240), Image.NEAREST).save('docs/screen-%s-x3.png' % n)) for n in ('main', 'chart', 'diag')]"
