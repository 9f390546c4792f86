# SmartMeter: the commands a developer types.  `make sim` and `make test` are the quick start.
PY := .venv/bin/python
PORT ?= /dev/ttyUSB0
MPY ?= 1.11

.PHONY: setup test gate pytest mptest sim bench deploy monitor mpy clean

setup:
	@sh tools/setup.sh

# 1. device-code gate (mpy-cross 1.11 + lint)  2. pytest on CPython  3. device tests on real MicroPython
test: setup
	@echo "== 1/3 device-code gate (mpy-cross -c 1.11 + lint)"
	@$(PY) tools/gate.py
	@echo "== 2/3 pytest (CPython)"
	@$(PY) -m pytest -q tests
	@echo "== 3/3 device tests under MicroPython (WebAssembly)"
	@node tools/mp_test.mjs

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
	@$(PY) tools/deploy.py --port $(PORT) $(if $(FORCE),--force,) $(if $(DEPLOY_MPY),--mpy $(MPY),)

monitor: setup
	@$(PY) -m serial.tools.miniterm $(PORT) 115200

mpy: setup
	@$(PY) tools/deploy.py --mpy $(MPY) --build-only

clean:
	rm -rf build .pytest_cache
