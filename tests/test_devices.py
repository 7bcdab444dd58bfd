"""Device set-up: clear one-line errors for a missing Gaudi stack or GPU."""

import sys

import pytest
import tensorflow as tf

from albert import devices


def test_hpu_without_habana_says_which_release_it_needs(monkeypatch):
    monkeypatch.setitem(sys.modules, "habana_frameworks", None)
    monkeypatch.setitem(sys.modules, "habana_frameworks.tensorflow", None)
    with pytest.raises(devices.DeviceError) as err:
        devices.setup("hpu")
    message = str(err.value)
    assert "\n" not in message
    assert "Intel Gaudi software 1.14.0" in message and "TensorFlow 2.15 on Python 3.10" in message


@pytest.mark.skipif(bool(tf.config.list_physical_devices("GPU")), reason="this machine has a GPU")
def test_gpu_without_one_is_an_error():
    with pytest.raises(devices.DeviceError, match="--device gpu: TensorFlow sees no GPU"):
        devices.setup("gpu")
    assert devices.default_device() == "cpu"


def test_unknown_device():
    with pytest.raises(devices.DeviceError, match="use one of cpu, gpu, hpu"):
        devices.setup("tpu")
