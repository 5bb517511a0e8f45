# Top-level Makefile of the prol2tp suite.
#
#   make              build the workspace (release)
#   make check        install test tools if missing (apt, needs root), run the kernel
#                     lab (LAB=0 skips it) and all tests
#   make demo         run tests/demo.sh
#   make lab          run the kernel lab (qemu; tests/lab/README.md)
#   make install      install into $(DESTDIR)$(PREFIX)  (PREFIX=/usr)
#                     FIRMWARE=1: example configs go to share/doc/prol2tp/examples
#                     instead of $(DESTDIR)/etc/prol2tp
#   make clean        remove build output
#
# Cross builds: make TARGET=aarch64-unknown-linux-musl (binaries are then taken
# from target/$(TARGET)/release).

CARGO   ?= cargo
PREFIX  ?= /usr
DESTDIR ?=
TARGET  ?=
FIRMWARE ?=
INSTALL ?= install

CARGO_TARGET_DIR ?= target
ifeq ($(TARGET),)
  TARGET_FLAG :=
  RELEASE_DIR := $(CARGO_TARGET_DIR)/release
else
  TARGET_FLAG := --target $(TARGET)
  RELEASE_DIR := $(CARGO_TARGET_DIR)/$(TARGET)/release
endif

# Programs: the sbin ones must exist; the bin ones are installed when built.
SBIN_PROGS := prol2tpd
OPT_SBIN_PROGS := propppd proacd
BIN_PROGS  := prol2tp prol2tpwatch prol2tp-scriptd propppctl propppwatch proac_manage proac_info

# Test tools: "command:debian-package". Checked with command -v (sbin included).
TEST_TOOLS := xl2tpd:xl2tpd pppd:ppp tshark:tshark dumpcap:tshark tcpdump:tcpdump \
              ip:iproute2 ping:iputils-ping
TOOL_PATH := $(PATH):/usr/local/sbin:/usr/sbin:/sbin

.PHONY: all check test-deps demo install clean

all:
	$(CARGO) build --release --workspace $(TARGET_FLAG)

# Installs the Debian packages the integration tests use, only when one of
# them is missing, so this is quick on a prepared machine. Without root or
# apt-get it only warns: the affected tests print SKIP.
test-deps:
	@missing=""; \
	for t in $(TEST_TOOLS); do \
	    cmd=$${t%%:*}; pkg=$${t#*:}; \
	    PATH="$(TOOL_PATH)" command -v $$cmd >/dev/null 2>&1 || missing="$$missing $$pkg"; \
	done; \
	/usr/bin/python3 -c 'import scapy' >/dev/null 2>&1 || missing="$$missing python3-scapy"; \
	missing=$$(echo $$missing | tr ' ' '\n' | sort -u | xargs); \
	if [ -z "$$missing" ]; then \
	    echo "test tools: all present"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "test tools: installing $$missing"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get update && apt-get install -y --no-install-recommends $$missing; \
	else \
	    echo "WARNING: missing test tools ($$missing) and cannot apt-get install them;" \
	         "network-namespace tests will SKIP"; \
	fi

# cargo-nextest runs each test in its own process (parallel, clean isolation
# for namespace tests) but not doctests, so those run first with cargo
# test --doc (nextest's summary then closes the output).
# The kernel lab (qemu) runs first, on a debug build of the daemon; then the
# Rust tests, whose summary closes the output. LAB=0 skips the lab.
LAB ?= 1
check: test-deps
	@if [ "$(LAB)" = 1 ]; then \
	    $(CARGO) build -p prol2tpd && bash tests/lab/run.sh --all || exit 1; \
	fi
	@if $(CARGO) nextest --version >/dev/null 2>&1; then \
	    echo "$(CARGO) test --workspace --doc" && \
	    $(CARGO) test --workspace --doc && \
	    echo "$(CARGO) nextest run --workspace --no-fail-fast" && \
	    $(CARGO) nextest run --workspace --no-fail-fast; \
	else \
	    echo "$(CARGO) test --workspace --no-fail-fast" && \
	    $(CARGO) test --workspace --no-fail-fast; \
	fi

demo: all
	bash tests/demo.sh

install: all
	$(INSTALL) -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/bin
	@for p in $(SBIN_PROGS); do \
	    echo "$(INSTALL) -D -m 0755 $(RELEASE_DIR)/$$p $(DESTDIR)$(PREFIX)/sbin/$$p"; \
	    $(INSTALL) -D -m 0755 $(RELEASE_DIR)/$$p $(DESTDIR)$(PREFIX)/sbin/$$p || exit 1; \
	done
	@for p in $(OPT_SBIN_PROGS); do \
	    if [ -f $(RELEASE_DIR)/$$p ]; then \
	        echo "$(INSTALL) -D -m 0755 $(RELEASE_DIR)/$$p $(DESTDIR)$(PREFIX)/sbin/$$p"; \
	        $(INSTALL) -D -m 0755 $(RELEASE_DIR)/$$p $(DESTDIR)$(PREFIX)/sbin/$$p || exit 1; \
	    fi; \
	done
	@for p in $(BIN_PROGS); do \
	    if [ -f $(RELEASE_DIR)/$$p ]; then \
	        echo "$(INSTALL) -D -m 0755 $(RELEASE_DIR)/$$p $(DESTDIR)$(PREFIX)/bin/$$p"; \
	        $(INSTALL) -D -m 0755 $(RELEASE_DIR)/$$p $(DESTDIR)$(PREFIX)/bin/$$p || exit 1; \
	    fi; \
	done
	@for s in 1 5 7 8; do \
	    for m in man/*.$$s; do \
	        [ -f "$$m" ] || continue; \
	        echo "$(INSTALL) -D -m 0644 $$m $(DESTDIR)$(PREFIX)/share/man/man$$s/$${m##*/}"; \
	        $(INSTALL) -D -m 0644 $$m $(DESTDIR)$(PREFIX)/share/man/man$$s/$${m##*/} || exit 1; \
	    done; \
	done
	@for c in conf/*.conf; do \
	    [ -f "$$c" ] || continue; \
	    if [ -n "$(FIRMWARE)" ]; then \
	        dst=$(DESTDIR)$(PREFIX)/share/doc/prol2tp/examples/$${c##*/}; \
	    else \
	        dst=$(DESTDIR)/etc/prol2tp/$${c##*/}; \
	        if [ -e "$$dst" ]; then echo "keeping existing $$dst"; continue; fi; \
	    fi; \
	    echo "$(INSTALL) -D -m 0644 $$c $$dst"; \
	    $(INSTALL) -D -m 0644 $$c $$dst || exit 1; \
	done

# Setup rate and resident memory of a release prol2tpd LNS against the
# prol2tp-bench load generator over loopback (generator on CPU 1, daemon on
# CPU 0): once with the daemon's default receive window, once with 64.
# BENCH_ARGS are passed to both runs (e.g. --concurrency 128, --quick).
.PHONY: bench
bench:
	$(CARGO) build --release -p prol2tpd --bins $(TARGET_FLAG)
	@pin=""; command -v taskset >/dev/null 2>&1 && pin="taskset -c 1"; \
	cpu=""; [ -n "$$pin" ] && cpu="--daemon-cpu 0"; \
	$$pin $(RELEASE_DIR)/prol2tp-bench $$cpu $(BENCH_ARGS) && echo && \
	$$pin $(RELEASE_DIR)/prol2tp-bench $$cpu --lns-window 64 $(BENCH_ARGS)

# Kernel lab (tests/lab/README.md): boots Debian's kernel under qemu (TCG) with
# the host root mounted read-only and runs the scenarios of tests/lab/scenarios/
# in it, each in its own VM; prints each one's wall time and a summary.
# LAB_SCENARIOS="smoke xl2tpd-pair" picks some. Needs root (apt-get, netns).
.PHONY: lab
lab:
	bash tests/lab/run.sh --all

clean:
	$(CARGO) clean
	rm -rf build
