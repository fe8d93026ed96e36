"""Register maps: decoding of hand-computed register images (word and byte order, sign, scale, offset),
the simulator's encoding as its inverse, and clear errors for maps that cannot work."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridos.ingest.config import ConnectorConfigError
from gridos.ingest.registermap import (
    DataType,
    Register,
    decode,
    encode,
    load_register_map,
    parse_register_map,
    to_registers,
    to_value,
)
from gridos.telemetry.catalogue import build_catalogue

CATALOGUE = build_catalogue()


@pytest.mark.parametrize(
    ("words", "data_type", "word_order", "byte_order", "expected"),
    [
        # 230.5 as IEEE 754 single = 0x43668000
        ([0x4366, 0x8000], DataType.float32, "big", "big", 230.5),
        ([0x8000, 0x4366], DataType.float32, "little", "big", 230.5),  # low word first
        ([0x6643, 0x0080], DataType.float32, "big", "little", 230.5),  # bytes swapped in each word
        ([0x0080, 0x6643], DataType.float32, "little", "little", 230.5),
        # -2 as int32 = 0xFFFFFFFE
        ([0xFFFF, 0xFFFE], DataType.int32, "big", "big", -2),
        ([0xFFFE, 0xFFFF], DataType.int32, "little", "big", -2),
        # 100000 = 0x000186A0
        ([0x0001, 0x86A0], DataType.uint32, "big", "big", 100_000),
        ([0x86A0, 0x0001], DataType.uint32, "little", "big", 100_000),
        # 0xFFFFFFFE read as unsigned
        ([0xFFFF, 0xFFFE], DataType.uint32, "big", "big", 4_294_967_294),
        ([0xFFC9], DataType.int16, "big", "big", -55),
        ([0xFFC9], DataType.uint16, "big", "big", 65_481),
        ([0x0109], DataType.uint16, "big", "little", 0x0901),
    ],
)
def test_decode_known_register_images(
    words: list[int], data_type: DataType, word_order: str, byte_order: str, expected: float
) -> None:
    assert decode(words, data_type, word_order, byte_order) == expected  # type: ignore[arg-type]


def test_scale_and_offset() -> None:
    voltage = Register(measurement="voltage", address=0, data_type=DataType.uint16, scale=0.1)
    assert to_value(voltage, [2305]) == pytest.approx(230.5)
    temp = Register(measurement="temperature", address=1, data_type=DataType.int16, scale=0.5, offset=10)
    assert to_value(temp, [0xFFC9]) == pytest.approx(-17.5)
    breaker = Register(measurement="breaker_closed", address=3, type="coil", data_type="bool")  # type: ignore[arg-type]
    assert to_value(breaker, [True]) is True
    assert to_registers(temp, -17.5) == [0xFFC9]


def test_decode_rejects_the_wrong_register_count() -> None:
    with pytest.raises(ValueError, match="needs 2"):
        decode([1], DataType.float32)


@given(
    st.sampled_from([DataType.int16, DataType.uint16, DataType.int32, DataType.uint32]),
    st.sampled_from(["big", "little"]),
    st.sampled_from(["big", "little"]),
    st.integers(min_value=-(2**31), max_value=2**32 - 1),
)
def test_encode_is_the_inverse_of_decode(data_type: DataType, wo: str, bo: str, n: int) -> None:
    bits = 16 if data_type in (DataType.int16, DataType.uint16) else 32
    signed = data_type in (DataType.int16, DataType.int32)
    lo, hi = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
    value = min(max(n, lo), hi)
    words = encode(value, data_type, wo, bo)  # type: ignore[arg-type]
    assert all(0 <= w <= 0xFFFF for w in words)
    assert decode(words, data_type, wo, bo) == value  # type: ignore[arg-type]


GOOD = {
    "defaults": {"host": "127.0.0.1", "port": 5020, "poll_interval_s": 1},
    "devices": [
        {
            "device_id": "north/feeder-1",
            "unit": 3,
            "registers": [
                {"measurement": "voltage", "address": 0, "data_type": "float32", "word_order": "little"},
                {"measurement": "breaker_closed", "address": 7, "type": "coil", "data_type": "bool"},
            ],
        }
    ],
}


def test_defaults_apply_to_every_device() -> None:
    (device,) = parse_register_map(GOOD, CATALOGUE)
    assert (device.host, device.port, device.unit, device.poll_interval_s) == ("127.0.0.1", 5020, 3, 1.0)
    assert device.registers[0].count == 2


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda d: d["devices"][0]["registers"][0].update(measurement="colour"),
            "unknown measurement 'colour'",
        ),
        (lambda d: d["devices"][0]["registers"][0].update(data_type="float64"), "data_type"),
        (lambda d: d["devices"][0]["registers"][1].update(type="holding"), "coils have data_type bool"),
        (lambda d: d["devices"][0]["registers"][0].update(type="coil", data_type="bool"), "voltage is float"),
        (lambda d: d["devices"][0].update(unit=300), "unit"),
        (lambda d: d["devices"].append(dict(d["devices"][0])), "listed twice"),
        (
            lambda d: d["devices"][0]["registers"].append({"measurement": "voltage", "address": 9}),
            "mapped twice",
        ),
        (lambda d: d["devices"][0]["registers"][0].update(address=65535), "past address 65535"),
        (lambda d: d["devices"][0].update(registers=[]), "registers"),
        (lambda d: d["devices"][0].update(speed=9600), "speed"),
    ],
)
def test_invalid_maps_fail_with_a_clear_message(mutate, message: str) -> None:  # type: ignore[no-untyped-def]
    import copy

    data = copy.deepcopy(GOOD)
    mutate(data)
    with pytest.raises(ConnectorConfigError, match=message):
        parse_register_map(data, CATALOGUE)


def test_load_reports_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConnectorConfigError, match="cannot read"):
        load_register_map(tmp_path / "missing.yaml", CATALOGUE)
    bad = tmp_path / "bad.yaml"
    bad.write_text("devices: [\n")
    with pytest.raises(ConnectorConfigError, match="not valid YAML"):
        load_register_map(bad, CATALOGUE)


def test_validator_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from gridos.ingest.registermap import main

    example = Path(__file__).parents[2] / "src/gridos/ingest/examples/registers.yaml"
    assert main([str(example)]) == 0
    assert "ok (2 devices, 8 registers)" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "devices:\n  - device_id: x\n    host: h\n    registers: [{measurement: voltage, address: -1}]\n"
    )
    assert main([str(bad)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "registers.0.address" in err, err
    assert main([]) == 2


def test_adjacent_registers_are_read_in_one_request() -> None:
    from gridos.ingest.registermap import read_plan

    (device,) = parse_register_map(
        {
            "devices": [
                {
                    "device_id": "d",
                    "host": "h",
                    "registers": [
                        {"measurement": "current", "address": 2, "data_type": "float32"},
                        {"measurement": "voltage", "address": 0, "data_type": "float32"},
                        {"measurement": "frequency", "address": 4, "data_type": "uint16", "scale": 0.01},
                        {"measurement": "temperature", "address": 6, "data_type": "int16"},  # gap at 5
                        {"measurement": "power_factor", "address": 6, "type": "input", "data_type": "int16"},
                        {"measurement": "active_power", "address": 200, "data_type": "int32"},
                        {"measurement": "reactive_power", "address": 202, "data_type": "int32"},
                    ],
                }
            ]
        },
        CATALOGUE,
    )
    plan = [
        (b.type.value, b.address, b.count, [r.measurement for r in b.registers]) for b in read_plan(device)
    ]
    assert plan == [
        ("holding", 0, 5, ["voltage", "current", "frequency"]),
        ("holding", 6, 1, ["temperature"]),
        ("holding", 200, 4, ["active_power", "reactive_power"]),
        ("input", 6, 1, ["power_factor"]),
    ]
    block = read_plan(device)[0]
    assert block.values([0x4366, 0x8000, 0x4120, 0x0000, 5009]) == {
        "voltage": 230.5,
        "current": 10.0,
        "frequency": pytest.approx(50.09),
    }


def test_a_read_never_exceeds_125_registers() -> None:
    from gridos.ingest.registermap import read_plan

    regs = [{"measurement": f"m{i}", "address": 2 * i, "data_type": "float32"} for i in range(100)]
    catalogue = build_catalogue(",".join(f"m{i}:V" for i in range(100)))
    (device,) = parse_register_map(
        {"devices": [{"device_id": "d", "host": "h", "registers": regs}]}, catalogue
    )
    assert [(b.address, b.count) for b in read_plan(device)] == [(0, 124), (124, 76)]
