# The README's commands call these targets; .ci/run calls `make test`.
CARGO   ?= cargo
VENV    := .venv
PY      := $(VENV)/bin/python
RELEASE := target/x86_64-unknown-linux-gnu/release
LAB     := $(RELEASE)/lab
APT_PKGS := kcat zookeeper bash-static busybox-static python3
PY_PKGS  := kafka-python==2.2.15 confluent-kafka aiokafka kazoo hdfs

.PHONY: setup build up down test lint bench clean

## setup: install what the tests, the image and the nodes' python3 need (idempotent)
setup: $(VENV)/.done
	@missing=""; for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

$(VENV)/.done: Makefile
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check $(PY_PKGS)
	touch $@

## build: every binary, statically linked, in release mode
build:
	$(CARGO) build --release --workspace

## up: build everything and bring the default lab (labs/tp3.yaml) up
up: build
	$(LAB) up

down:
	$(LAB) down

## test: every test, real clients and Docker included (nothing skips under CI=true)
test: setup lint
	$(CARGO) test --release --workspace

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --release --workspace --all-targets -- -D warnings

## bench: the speed and memory figures, as ratios against anchors measured in the same run
# Each bench prints a table of ratios against its anchor measured in the same run:
# broker (log_append, broker_throughput, cluster), coordinator (vs Debian's ZooKeeper),
# kafka-client (vs librdkafka), hdfs (WebHDFS vs the disk, sink), stream (wordcount), lab_up.
bench: setup build
	LABNODE=$(CURDIR)/$(RELEASE)/labnode LAB_LABNODE=$(CURDIR)/$(RELEASE)/labnode $(CARGO) bench --workspace --benches

clean:
	$(CARGO) clean
