"""Device set-up: clear one-line errors for a missing Gaudi stack or GPU."""

import sys
import types

import pytest
import tensorflow as tf

from albert import devices

PACKAGES = "pip install tensorflow-cpu==2.15.0 habana-tensorflow==1.14.0 (and habana-horovod==1.14.0"


def test_hpu_without_habana_says_which_packages_it_needs(monkeypatch):
    monkeypatch.setattr(tf, "__version__", "2.15.0")
    monkeypatch.setitem(sys.modules, "habana_frameworks", None)
    monkeypatch.setitem(sys.modules, "habana_frameworks.tensorflow", None)
    with pytest.raises(devices.DeviceError) as err:
        devices.setup("hpu")
    message = str(err.value)
    assert "\n" not in message and message.startswith("--device hpu: habana_frameworks.tensorflow is not importable")
    assert "Intel Gaudi software 1.14.0" in message and f"on Python 3.10: {PACKAGES}" in message


def test_hpu_on_another_tensorflow_names_the_one_it_needs(monkeypatch):
    monkeypatch.setattr(tf, "__version__", "2.21.0")
    monkeypatch.setitem(sys.modules, "habana_frameworks.tensorflow", None)  # the bridge refuses this TensorFlow
    with pytest.raises(devices.DeviceError) as err:
        devices.setup("hpu")
    message = str(err.value)
    assert "\n" not in message and "runs on TensorFlow 2.15.0 only, this is TensorFlow 2.21.0" in message
    assert PACKAGES in message


def test_hpu_loads_the_bridge_and_needs_a_card(monkeypatch):
    """A stand-in bridge: setup loads it; a bridge that finds no card is a one-line error."""
    loaded = []
    bridge = types.ModuleType("habana_frameworks.tensorflow")
    bridge.load_habana_module = lambda: loaded.append(True)
    monkeypatch.setitem(sys.modules, "habana_frameworks", types.ModuleType("habana_frameworks"))
    monkeypatch.setitem(sys.modules, "habana_frameworks.tensorflow", bridge)
    with pytest.raises(devices.DeviceError, match="bridge loaded but TensorFlow sees no HPU; check the card"):
        devices.setup("hpu")
    assert loaded == [True]
    card = tf.config.PhysicalDevice("/physical_device:HPU:0", "HPU")
    listed = tf.config.list_physical_devices
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [card] if kind == "HPU" else listed(kind))
    assert devices.setup("hpu") == "hpu" and loaded == [True, True]


@pytest.mark.skipif(bool(tf.config.list_physical_devices("GPU")), reason="this machine has a GPU")
def test_gpu_without_one_is_an_error():
    with pytest.raises(devices.DeviceError, match="--device gpu: TensorFlow sees no GPU"):
        devices.setup("gpu")
    assert devices.default_device() == "cpu"


def test_unknown_device():
    with pytest.raises(devices.DeviceError, match="use one of cpu, gpu, hpu"):
        devices.setup("tpu")


def test_scoped_allocator_from_the_environment(monkeypatch):
    monkeypatch.setenv("TF_ENABLE_SCOPED_ALLOCATOR", "true")
    before = tf.config.optimizer.get_experimental_options()
    try:
        devices.setup("cpu")
        assert tf.config.optimizer.get_experimental_options().get("scoped_allocator_optimization") is True
    finally:
        tf.config.optimizer.set_experimental_options({"scoped_allocator_optimization": False, **before})
