import numpy as np
import pytest

from pipeline.geo.gcj02 import gcj02_to_wgs84, in_china, wgs84_to_gcj02


def _shift_m(lat, lon, lat2, lon2):
    # Equirectangular at each point: exact enough for shifts of a few hundred metres.
    k = np.pi / 180.0 * 6_371_008.8
    return np.hypot((lon2 - lon) * k * np.cos(np.radians(lat)), (lat2 - lat) * k)


def test_beijing_reference_point():
    lat, lon = wgs84_to_gcj02(np.array([39.9087]), np.array([116.3975]))
    assert lat[0] == pytest.approx(39.91010, abs=2e-5)
    assert lon[0] == pytest.approx(116.40374, abs=2e-5)


def test_shift_magnitude_in_china_is_hundreds_of_metres():
    rng = np.random.default_rng(1)
    lat = rng.uniform(22.0, 45.0, 2000)
    lon = rng.uniform(100.0, 125.0, 2000)
    glat, glon = wgs84_to_gcj02(lat, lon)
    shift = _shift_m(lat, lon, glat, glon)
    assert shift.min() > 100.0
    assert shift.max() < 700.0


def test_round_trip_within_a_centimetre():
    rng = np.random.default_rng(2)
    lat = rng.uniform(18.5, 53.0, 5000)
    lon = rng.uniform(74.0, 134.0, 5000)
    back_lat, back_lon = gcj02_to_wgs84(*wgs84_to_gcj02(lat, lon))
    assert np.abs(back_lat - lat).max() < 1e-7
    assert np.abs(back_lon - lon).max() < 1e-7
    assert _shift_m(lat, lon, back_lat, back_lon).max() < 0.01


def test_inverse_of_reference_point_recovers_wgs84():
    lat, lon = gcj02_to_wgs84(np.array([39.91010]), np.array([116.40374]))
    assert lat[0] == pytest.approx(39.9087, abs=2e-5)
    assert lon[0] == pytest.approx(116.3975, abs=2e-5)


@pytest.mark.parametrize(
    ("lat", "lon"),
    [(0.0, 0.0), (51.5074, -0.1278), (35.6762, 139.6503), (-33.87, 151.21), (60.0, 100.0)],
)
def test_outside_china_is_identity(lat, lon):
    a = np.array([lat])
    b = np.array([lon])
    assert not in_china(a, b)[0]
    for f in (wgs84_to_gcj02, gcj02_to_wgs84):
        out_lat, out_lon = f(a, b)
        assert out_lat[0] == lat and out_lon[0] == lon


def test_mixed_arrays_convert_only_inside_and_do_not_mutate_input():
    lat = np.array([30.25, 0.0, 31.23])
    lon = np.array([120.15, 0.0, 121.47])
    keep = lat.copy(), lon.copy()
    glat, glon = wgs84_to_gcj02(lat, lon)
    assert np.array_equal(lat, keep[0]) and np.array_equal(lon, keep[1])
    assert glat[1] == 0.0 and glon[1] == 0.0
    assert glat[0] != 30.25 and glon[2] != 121.47


def test_shape_mismatch_is_rejected():
    with pytest.raises(ValueError, match="same shape"):
        wgs84_to_gcj02(np.zeros(2), np.zeros(3))
