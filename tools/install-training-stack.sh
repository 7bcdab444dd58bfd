#!/usr/bin/env bash
# Installs the multi-worker training stack into the Python environment of $1: TensorFlow
# ($TENSORFLOW, default tensorflow-cpu==2.15.0, the one version Intel Gaudi's bridge accepts),
# Keras 3, this project's requirements, Horovod 0.28.1 built against that TensorFlow, and this
# project (editable with EDITABLE=1; PROJECT=0 leaves it out; DEV=1 adds the test requirements).
# Horovod's build flags come from the environment: `make test-horovod` builds it with Gloo for
# CPUs, the Dockerfile with MPI and NCCL for GPUs (TENSORFLOW="tensorflow[and-cuda]==2.18.1").
#
#   HOROVOD_WITH_GLOO=1 HOROVOD_WITHOUT_MPI=1 tools/install-training-stack.sh .venv-horovod/bin/python
#
# TensorFlow 2.15 declares Keras 2 (keras<2.16), so Keras 3 goes in after it without its
# dependency check, and the project's other requirements without their TensorFlow lines.
# HOROVOD=0 leaves Horovod out (Intel Gaudi brings its own, habana-horovod).
set -euo pipefail
PYTHON=${1:?usage: tools/install-training-stack.sh PYTHON}
TENSORFLOW=${TENSORFLOW:-tensorflow-cpu==2.15.0}
cd "$(dirname "$0")/.."
pip() { "$PYTHON" -m pip --quiet "$@"; }

pip install --upgrade pip
pip install "$TENSORFLOW" "cmake<4" setuptools wheel packaging cloudpickle psutil pyyaml cffi
requirements=(requirements.txt)
[ "${DEV:-0}" = 1 ] && requirements+=(requirements-dev.txt)
if "$PYTHON" -c 'import sys, tensorflow as tf; sys.exit(not tf.__version__.startswith("2.15."))'; then
    pip install --no-deps "keras>=3.5"
    # the serving tests: tensorflow-text 2.15 imports tensorflow-hub, which imports tf-keras (Keras 2)
    [ "${DEV:-0}" = 1 ] && pip install --no-deps tensorflow-text==2.15.0 tensorflow-hub "tf-keras~=2.15.0"
    pip install namex optree rich h5py
    others=$(mktemp)
    cat "${requirements[@]}" | grep -vE '^(tensorflow|tensorflow-text|keras)([<>=!~ ]|$)' > "$others"
    pip install -r "$others" "numpy<2"  # TensorFlow 2.15 is built against NumPy 1
    rm -f "$others"
else
    pip install "${requirements[@]/#/-r}"
fi
if [ "${HOROVOD_GPU_OPERATIONS:-}" = NCCL ] && [ -z "${HOROVOD_NCCL_HOME:-}" ]; then
    HOROVOD_NCCL_HOME=$("$PYTHON" -c 'import nvidia.nccl; print(list(nvidia.nccl.__path__)[0])')
    ln -sf libnccl.so.2 "$HOROVOD_NCCL_HOME/lib/libnccl.so"
    export HOROVOD_NCCL_HOME HOROVOD_NCCL_LINK=SHARED
fi
# Horovod compiles against the installed TensorFlow: no build isolation, and no wheel from pip's
# cache, which may have been built against another TensorFlow (its wheels all share one name).
if [ "${HOROVOD:-1}" != 0 ]; then
    HOROVOD_WITH_TENSORFLOW=1 HOROVOD_WITHOUT_PYTORCH=1 HOROVOD_WITHOUT_MXNET=1 \
        pip install --no-build-isolation --no-cache-dir horovod==0.28.1
fi
if [ "${PROJECT:-1}" != 0 ]; then
    pip install --no-deps ${EDITABLE:+-e} .
fi
