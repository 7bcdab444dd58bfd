# The training image for Amazon SageMaker (and any GPU box): CUDA 12.5 + cuDNN 9 (TensorFlow
# 2.18's), TensorFlow 2.18.1, Horovod 0.28.1 with MPI and NCCL, OpenMPI, SSH as SageMaker's MPI
# jobs need, SageMaker's training toolkit and this project. The install steps are
# tools/install-training-stack.sh, the same script `make test-horovod` runs.
#
#   docker build -t ${IMAGE} .
FROM nvidia/cuda:12.5.1-cudnn-devel-ubuntu22.04

ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8
RUN apt-get update && apt-get install -y --no-install-recommends \
        python3 python3-dev python3-venv build-essential git \
        openmpi-bin libopenmpi-dev openssh-client openssh-server \
    && rm -rf /var/lib/apt/lists/*

# SageMaker's MPI jobs start the workers over SSH between the job's hosts.
RUN mkdir -p /var/run/sshd /root/.ssh \
    && sed -i 's/^session\s*required\s*pam_loginuid.so/session optional pam_loginuid.so/' /etc/pam.d/sshd \
    && printf 'Host *\n  StrictHostKeyChecking no\n' > /root/.ssh/config \
    && ssh-keygen -q -t rsa -N '' -f /root/.ssh/id_rsa \
    && cp /root/.ssh/id_rsa.pub /root/.ssh/authorized_keys

RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

# The stack first (a change to the code does not rebuild Horovod), then the project.
WORKDIR /opt/albert
COPY requirements.txt ./
COPY tools/ tools/
RUN TENSORFLOW="tensorflow[and-cuda]==2.18.1" PROJECT=0 \
    HOROVOD_WITH_MPI=1 HOROVOD_WITH_GLOO=1 HOROVOD_GPU_OPERATIONS=NCCL HOROVOD_CUDA_HOME=/usr/local/cuda \
        tools/install-training-stack.sh /opt/venv/bin/python \
    && pip install --quiet --no-cache-dir sagemaker-training mpi4py \
    && python -c "import horovod.tensorflow as h; assert h.mpi_built() and h.nccl_built(), 'Horovod lacks MPI or NCCL'"
COPY . /opt/albert
RUN pip install --quiet --no-deps /opt/albert

# Interactive use (the README's `docker run ... /bin/bash`) starts here, beside the FSx mount.
WORKDIR /fsx
