"""SmartMeter.example.json (repo root) loads as shipped, and each commented-out section
(_mqtt, _wifi, _tariff) loads once renamed as its _comment says."""
import json

import config


def example():
    with open("SmartMeter.example.json", encoding="utf-8") as f:
        return json.load(f)


def test_example_loads_as_shipped():
    cfg = config.load(open("SmartMeter.example.json", encoding="utf-8").read())
    assert cfg.contract_amperage == 50 and cfg.collect_date == 22
    assert cfg.charge_func == "tokyo_gas_1"
    assert cfg.ambient is None and cfg.mqtt is None and cfg.wifi is None
    assert cfg.uart == {"tx": 0, "rx": 26}
    assert cfg.display["night"] == {"start": 23 * 60, "end": 6 * 60, "brightness": 10}


def test_example_keys_match_the_original():
    raw = example()
    for key in ("id", "password", "contract_amperage", "collect_date", "charge_func", "ambient"):
        assert key in raw
    assert len(raw["id"]) == 32


def test_commented_sections_load_when_enabled():
    raw = example()
    raw["mqtt"] = raw.pop("_mqtt")
    raw["wifi"] = raw.pop("_wifi")
    raw["tariff"] = raw.pop("_tariff")
    raw["charge_func"] = ""
    raw["ambient"]["channel_id"] = "12345"
    raw["ambient"]["write_key"] = "0123456789abcdef"
    cfg = config.load(raw)
    assert cfg.mqtt["host"] == "192.168.1.10" and cfg.mqtt["port"] == 1883
    assert cfg.wifi["ssid"] == "your-ssid"
    # 1430 + 23.67*140 + 23.88*60 = 6176.6; adders 200 * (3.49 - 1.2) = 458 -> 6634.6
    assert cfg.charge(cfg.contract_amperage, 200) == 6634
    assert cfg.ambient["channel_id"] == 12345
    assert "0123456789abcdef" not in repr(cfg)
