"""Latency encoders: known values, thresholds and flattening."""

import numpy as np

from app.training.data import linear_latency_encode_data, log_latency_encode_data


def test_linear_latency_known_values():
    data = np.array([[0, 255, 1, 2, 128]], dtype=np.uint8)
    (s,) = linear_latency_encode_data(data, 18.0, 2.0)
    # values <= thresh (1) are silent
    np.testing.assert_array_equal(s.end_spikes, [0, 1, 1, 2, 3])
    np.testing.assert_allclose(s.spike_times,
                               [2.0, 2.0 + 16.0 * 253 / 255, 2.0 + 16.0 * 127 / 255])


def test_linear_latency_flattens_images_row_major():
    img = np.zeros((2, 3, 3), dtype=np.uint8)
    img[0, 1, 2] = 255
    img[1, 2, 0] = 0
    img[1, 0, 0] = 51
    a, b = linear_latency_encode_data(img, 10.0, thresh=0)
    assert len(a.end_spikes) == 9
    np.testing.assert_array_equal(np.diff(a.end_spikes, prepend=0),
                                  [0, 0, 0, 0, 0, 1, 0, 0, 0])
    np.testing.assert_allclose(a.spike_times, [0.0])
    np.testing.assert_allclose(b.spike_times, [8.0])


def test_log_latency_known_values():
    data = np.array([[51, 52, 102, 255]], dtype=np.float64)
    (s,) = log_latency_encode_data(data, 20.0, 51)
    np.testing.assert_array_equal(s.end_spikes, [0, 1, 2, 3])
    np.testing.assert_allclose(s.spike_times, 20.0 * np.log(np.array([52.0, 102.0, 255.0])
                                                            / np.array([1.0, 51.0, 204.0])))
    assert s.spike_times[2] == np.float64(20.0 * np.log(255.0 / 204.0))
