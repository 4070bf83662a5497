"""Exposure limit sets: every file validates, cites its source, and converts its units right."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from device_profiles import Catalog, LimitSet, LimitValue, NoiseRegime, ProfileError, load_limit_set
from device_profiles.loader import LIMIT_SETS_DIR
from device_profiles.quantities import QUANTITIES

LIMIT_SET_FILES = sorted(LIMIT_SETS_DIR.glob("*.yaml"))
SOURCE_KEY = re.compile(r"\[[A-Z]\d+[a-z]?\]")
KINDS = ("twa", "stel", "ceiling", "idlh", "action_level")


def values(limit_set: LimitSet) -> list[tuple[str, str, LimitValue]]:
    out = []
    for quantity, limits in limit_set.substances.items():
        for kind in KINDS:
            value = getattr(limits, kind)
            if value is not None:
                out.append((quantity, kind, value))
    return out


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog()


def test_the_reference_jurisdictions_are_all_there() -> None:
    ids = {p.stem for p in LIMIT_SET_FILES}
    assert {"cn-gbz-2019", "us-osha", "us-niosh-rel", "acgih-tlv", "eu-2003-10-ec"} <= ids


@pytest.mark.parametrize("path", LIMIT_SET_FILES, ids=lambda p: p.stem)
def test_limit_set_loads_and_every_value_cites_its_source(path: Path) -> None:
    limit_set = load_limit_set(path)
    assert limit_set.id == path.stem
    for quantity, kind, value in values(limit_set):
        assert SOURCE_KEY.search(value.source), f"{quantity}.{kind}: {value.source!r}"
        if value.unverified:
            assert "unverified" in value.note.lower(), f"{quantity}.{kind} needs an explaining note"
        # every value converts to the quantity's canonical unit with the set's molar volume
        canonical = QUANTITIES[quantity].unit
        assert value.in_unit(quantity, canonical, limit_set.molar_volume_l) > 0
    if limit_set.noise is not None:
        assert SOURCE_KEY.search(limit_set.noise.source)


def test_gbz_h2s_mac_in_ppm(catalog: Catalog) -> None:
    gbz = catalog.limit_set("cn-gbz-2019")
    mac = gbz.substances["gas.h2s"].ceiling
    assert mac is not None
    assert (mac.value, mac.unit) == (10, "mg/m³")
    # ppm = mg/m³ × molar volume / MW = 10 × 24.06 / 34.08 (H2S: 2 × 1.008 + 32.06 = 34.08 g/mol)
    expected = 10 * 24.06 / (2 * 1.008 + 32.06)
    assert gbz.molar_volume_l == 24.06  # 20 °C, hse-standards §2.3
    assert mac.in_unit("gas.h2s", "ppm", gbz.molar_volume_l) == pytest.approx(expected, rel=1e-3)
    assert expected == pytest.approx(7.05, abs=0.02)  # the reference's "MAC ≈ 7.05 ppm"


def test_gbz_co_twa_and_stel_in_ppm(catalog: Catalog) -> None:
    gbz = catalog.limit_set("cn-gbz-2019")
    co = gbz.substances["gas.co"]
    assert co.twa is not None
    assert co.stel is not None
    mw_co = 12.011 + 15.999  # 28.01 g/mol
    # 20 mg/m³ × 24.06 / 28.01 = 17.18 ppm; 30 mg/m³ → 25.77 ppm (reference: 17.2 / 25.8)
    assert co.twa.in_unit("gas.co", "ppm", 24.06) == pytest.approx(20 * 24.06 / mw_co, rel=1e-3)
    assert co.stel.in_unit("gas.co", "ppm", 24.06) == pytest.approx(30 * 24.06 / mw_co, rel=1e-3)
    assert co.twa.in_unit("gas.co", "ppm", 24.06) == pytest.approx(17.2, abs=0.05)


def test_osha_ppm_limit_converts_to_mg_m3_at_25_c(catalog: Catalog) -> None:
    osha = catalog.limit_set("us-osha")
    assert osha.molar_volume_l == 24.45  # 25 °C, 760 mmHg [G15]
    ceiling = osha.substances["gas.h2s"].ceiling
    assert ceiling is not None
    assert (ceiling.value, ceiling.unit) == (20, "ppm")
    # mg/m³ = ppm × MW / 24.45 = 20 × 34.08 / 24.45 = 27.88
    assert ceiling.in_unit("gas.h2s", "mg/m³", 24.45) == pytest.approx(20 * 34.08 / 24.45)
    silica = osha.substances["dust.respirable_silica"]
    assert silica.twa is not None
    assert silica.action_level is not None
    assert silica.twa.in_unit("dust.respirable_silica", "µg/m³", 24.45) == pytest.approx(50)
    assert silica.action_level.in_unit("dust.respirable_silica", "µg/m³", 24.45) == pytest.approx(
        25
    )


@given(
    value=st.floats(min_value=1e-3, max_value=1e4),
    quantity=st.sampled_from(["gas.h2s", "gas.co", "gas.so2", "gas.nh3", "gas.cl2", "gas.no2"]),
    molar_volume=st.sampled_from([22.41, 24.06, 24.45]),
)
def test_mg_m3_and_ppm_convert_back_and_forth(
    value: float, quantity: str, molar_volume: float
) -> None:
    as_ppm = LimitValue(value=value, unit="mg/m³", source="[G15]").in_unit(
        quantity, "ppm", molar_volume
    )
    back = LimitValue(value=as_ppm, unit="ppm", source="[G15]").in_unit(
        quantity, "mg/m³", molar_volume
    )
    assert back == pytest.approx(value, rel=1e-9)
    # more air per mole (warmer) means more ppm for the same mass
    warmer = LimitValue(value=value, unit="mg/m³", source="[G15]").in_unit(
        quantity, "ppm", molar_volume + 1
    )
    assert warmer > as_ppm


def test_osha_noise_uses_the_5_db_exchange(catalog: Catalog) -> None:
    noise = catalog.limit_set("us-osha").noise
    assert noise is not None
    assert noise.regime is NoiseRegime.OSHA
    assert (noise.criterion_db, noise.exchange_db, noise.threshold_db) == (90, 5, 80)
    assert noise.action_db == 85
    assert noise.peak_db_c == 140
    # the 80 dB(A) threshold is unverified in the reference, and the set says so
    assert "unverified" in noise.note


def test_niosh_and_china_use_85_db_with_3_db_exchange(catalog: Catalog) -> None:
    for set_id in ("us-niosh-rel", "cn-gbz-2019"):
        noise = catalog.limit_set(set_id).noise
        assert noise is not None
        assert noise.regime is NoiseRegime.ISO_9612
        assert (noise.criterion_db, noise.exchange_db) == (85, 3), set_id


def test_eu_noise_action_and_limit_values(catalog: Catalog) -> None:
    noise = catalog.limit_set("eu-2003-10-ec").noise
    assert noise is not None
    assert (noise.action_db, noise.upper_action_db, noise.criterion_db) == (80, 85, 87)
    # Directive 2003/10/EC gives the peaks in Pa: 112, 140, 200 Pa; dB(C) = 20·lg(p / 20 µPa)
    peaks = [noise.action_peak_db_c, noise.upper_action_peak_db_c, noise.peak_db_c]
    for pascal, db in zip([112, 140, 200], peaks, strict=True):
        assert db is not None
        assert db == pytest.approx(20 * math.log10(pascal / 20e-6), abs=0.5)


def test_unverified_reference_values_are_left_out_or_flagged(catalog: Catalog) -> None:
    gbz = catalog.limit_set("cn-gbz-2019")
    total = gbz.substances["dust.total"].twa
    assert total is not None
    assert total.unverified
    assert total.note
    # GBZ 2.1-2019 silica bands and plateau CO are marked U in the reference: not encoded
    assert "dust.respirable_silica" not in gbz.substances
    acgih = catalog.limit_set("acgih-tlv")
    cl2 = acgih.substances["gas.cl2"]
    assert cl2.twa is not None
    assert cl2.twa.value == 0.5
    assert "unverified" in cl2.note
    assert acgih.noise is None  # the reference has no ACGIH noise TLV


def _write(tmp_path: Path, data: object, name: str = "bad-set") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


PEAK = {"value": 50, "unit": "ppm", "max_minutes": 10, "per_shift": 1, "source": "[G4]"}


def test_osha_h2s_allows_one_peak_of_50_ppm_for_10_minutes(catalog: Catalog) -> None:
    h2s = catalog.limit_set("us-osha").substances["gas.h2s"]
    assert h2s.ceiling is not None
    assert h2s.peak is not None
    assert (h2s.ceiling.value, h2s.peak.value, h2s.peak.max_minutes, h2s.peak.per_shift) == (
        20, 50, 10, 1,
    )  # fmt: skip


def _base_set() -> dict[str, object]:
    return {
        "id": "bad-set",
        "name": "test",
        "jurisdiction": "XX",
        "molar_volume_l": 24.45,
        "substances": {"gas.h2s": {"twa": {"value": 1, "unit": "ppm", "source": "[G4]"}}},
    }


@pytest.mark.parametrize(
    ("edit", "field", "value"),
    [
        (lambda d: d["substances"].update({"gas.xyz": {}}), "substances.gas.xyz", "'gas.xyz'"),
        (
            lambda d: d["substances"]["gas.h2s"]["twa"].update(unit="dB(A)"),
            "substances.gas.h2s.twa.unit",
            "'dB(A)'",
        ),
        (
            lambda d: d["substances"]["gas.h2s"]["twa"].update(unverified=True),
            "substances.gas.h2s.twa.note",
            "''",
        ),
        (lambda d: d.update(molar_volume_l=2406), "molar_volume_l", "2406"),
        (lambda d: d.update(id="other"), "id", "'other'"),
        (
            lambda d: d["substances"]["gas.h2s"].update(peak={**PEAK}),
            "substances.gas.h2s.peak",
            "50",
        ),
        (
            lambda d: d["substances"]["gas.h2s"].update(
                ceiling={"value": 20, "unit": "ppm", "source": "[G4]"}, peak={**PEAK, "value": 15}
            ),
            "substances.gas.h2s.peak.value",
            "15",
        ),
    ],
    ids=[
        "unknown quantity",
        "unit of another quantity",
        "unverified without note",
        "molar volume",
        "id",
        "peak without a ceiling",
        "peak under the ceiling",
    ],
)
def test_malformed_limit_set_names_file_field_and_value(
    tmp_path: Path, edit: object, field: str, value: str
) -> None:
    data = _base_set()
    assert load_limit_set(_write(tmp_path, data)).id == "bad-set"
    edit(data)  # type: ignore[operator]
    path = _write(tmp_path, data)
    with pytest.raises(ProfileError) as caught:
        load_limit_set(path)
    message = str(caught.value)
    assert str(path) in message
    assert any(field in ln and value in ln for ln in message.splitlines()), message
