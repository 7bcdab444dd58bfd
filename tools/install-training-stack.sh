#!/usr/bin/env bash
# Installs the multi-worker training stack into the Python environment of $1: TensorFlow
# ($TENSORFLOW, default tensorflow==2.18.1, the newest Horovod 0.28.1 builds against), this
# project's requirements, Horovod 0.28.1 built against that TensorFlow, and this project
# (editable with EDITABLE=1). Horovod's build flags come from the environment: `make test-horovod`
# builds it with Gloo for CPUs, the Dockerfile with MPI and NCCL for GPUs.
#
#   HOROVOD_WITH_GLOO=1 HOROVOD_WITHOUT_MPI=1 tools/install-training-stack.sh .venv-horovod/bin/python
set -euo pipefail
PYTHON=${1:?usage: tools/install-training-stack.sh PYTHON}
TENSORFLOW=${TENSORFLOW:-tensorflow==2.18.1}
cd "$(dirname "$0")/.."

"$PYTHON" -m pip install --quiet --upgrade pip
"$PYTHON" -m pip install --quiet "$TENSORFLOW" -r requirements.txt \
    "cmake<4" setuptools wheel packaging cloudpickle psutil pyyaml cffi
if [ "${HOROVOD_GPU_OPERATIONS:-}" = NCCL ] && [ -z "${HOROVOD_NCCL_HOME:-}" ]; then
    HOROVOD_NCCL_HOME=$("$PYTHON" -c 'import nvidia.nccl; print(list(nvidia.nccl.__path__)[0])')
    ln -sf libnccl.so.2 "$HOROVOD_NCCL_HOME/lib/libnccl.so"
    export HOROVOD_NCCL_HOME HOROVOD_NCCL_LINK=SHARED
fi
# Horovod compiles against the installed TensorFlow: no build isolation.
HOROVOD_WITH_TENSORFLOW=1 HOROVOD_WITHOUT_PYTORCH=1 HOROVOD_WITHOUT_MXNET=1 \
    "$PYTHON" -m pip install --quiet --no-build-isolation horovod==0.28.1
if [ "${PROJECT:-1}" != 0 ]; then
    "$PYTHON" -m pip install --quiet --no-deps ${EDITABLE:+-e} .
fi
