# Top-level Makefile of the prol2tp suite.
#
#   make              build the workspace (release)
#   make check        install test tools if missing (apt, needs root), run the kernel
#                     lab (LAB=0 skips it) and all tests
#   make demo         run tests/demo.sh
#   make lab          run the kernel lab (qemu; tests/lab/README.md)
#   make install      build, then install into $(DESTDIR)$(PREFIX)  (PREFIX=/usr):
#                     programs, man pages, the systemd units, and under
#                     $(DESTDIR)/etc the example configs (prol2tpd's in
#                     /etc/prol2tp, propppd.conf in /etc/proppp, proacd's in
#                     /etc/proac), the init scripts and
#                     /etc/default/{prol2tp,proppp,proac} (existing config
#                     files kept)
#                     FIRMWARE=1: example configs, init scripts, defaults files
#                     and hook-script examples go to share/doc/prol2tp/examples
#                     instead; nothing under /etc, no systemd unit
#                     NOBUILD=1 RELEASE_DIR=target/debug: install what is built
#   make uninstall    remove what install put there, except files under /etc
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

# Programs: the SBIN_ and BIN_PROGS must exist; the OPT_ ones (daemons and
# tools still to be written) are installed when built.
SBIN_PROGS := prol2tpd prol2tp-scriptd
BIN_PROGS  := prol2tp prol2tpwatch
OPT_SBIN_PROGS := propppd proacd
OPT_BIN_PROGS := propppctl propppwatch proac_manage proac_info
MAN_SECTIONS := 1 5 7 8
UNIT_DIR := $(PREFIX)/lib/systemd/system
# Services: conf/NAME.{service,init,default}.
SERVICES := prol2tp proppp proac
DOC_EXAMPLES := $(PREFIX)/share/doc/prol2tp/examples

# Test tools: "command:debian-package". Checked with command -v (sbin included).
TEST_TOOLS := xl2tpd:xl2tpd pppd:ppp pppoe-server:pppoe tshark:tshark dumpcap:tshark tcpdump:tcpdump \
              ip:iproute2 ping:iputils-ping groff:groff-base \
              systemd-analyze:systemd start-stop-daemon:dpkg
TOOL_PATH := $(PATH):/usr/local/sbin:/usr/sbin:/sbin

.PHONY: all check test-deps demo install uninstall clean

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
# The kernel lab (qemu) runs first, on a debug build of the daemons; then the
# Rust tests, whose summary closes the output. LAB=0 skips the lab.
LAB ?= 1
check: test-deps
	@if [ "$(LAB)" = 1 ]; then \
	    $(CARGO) build --workspace --bins && bash tests/lab/run.sh --all || exit 1; \
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

# install_file MODE SRC DST [keep]: installs SRC as DST (directories
# made); with "keep", an existing DST is left alone.
install_file = \
	if [ "$(4)" = keep ] && [ -e "$(3)" ]; then \
	    echo "keeping existing $(3)"; \
	else \
	    echo "$(INSTALL) -D -m $(1) $(2) $(3)"; \
	    $(INSTALL) -D -m $(1) $(2) $(3) || exit 1; \
	fi

install: $(if $(NOBUILD),,all)
	@for p in $(SBIN_PROGS); do \
	    $(call install_file,0755,$(RELEASE_DIR)/$$p,$(DESTDIR)$(PREFIX)/sbin/$$p); \
	done
	@for p in $(BIN_PROGS); do \
	    $(call install_file,0755,$(RELEASE_DIR)/$$p,$(DESTDIR)$(PREFIX)/bin/$$p); \
	done
	@for p in $(OPT_SBIN_PROGS); do \
	    [ -f $(RELEASE_DIR)/$$p ] || continue; \
	    $(call install_file,0755,$(RELEASE_DIR)/$$p,$(DESTDIR)$(PREFIX)/sbin/$$p); \
	done
	@for p in $(OPT_BIN_PROGS); do \
	    [ -f $(RELEASE_DIR)/$$p ] || continue; \
	    $(call install_file,0755,$(RELEASE_DIR)/$$p,$(DESTDIR)$(PREFIX)/bin/$$p); \
	done
	@for s in $(MAN_SECTIONS); do \
	    for m in man/*.$$s; do \
	        [ -f "$$m" ] || continue; \
	        $(call install_file,0644,$$m,$(DESTDIR)$(PREFIX)/share/man/man$$s/$${m##*/}); \
	    done; \
	done
	@if [ -n "$(FIRMWARE)" ]; then \
	    for c in conf/*.conf; do \
	        [ -f "$$c" ] || continue; \
	        $(call install_file,0644,$$c,$(DESTDIR)$(DOC_EXAMPLES)/$${c##*/}); \
	    done; \
	    for s in $(SERVICES); do \
	        $(call install_file,0644,conf/$$s.init,$(DESTDIR)$(DOC_EXAMPLES)/$$s.init); \
	        $(call install_file,0644,conf/$$s.default,$(DESTDIR)$(DOC_EXAMPLES)/$$s.default); \
	    done; \
	    for h in conf/hooks/*; do \
	        [ -f "$$h" ] || continue; \
	        $(call install_file,0644,$$h,$(DESTDIR)$(DOC_EXAMPLES)/hooks/$${h##*/}); \
	    done; \
	else \
	    for c in conf/*.conf; do \
	        [ -f "$$c" ] || continue; \
	        case "$${c##*/}" in \
	            propppd*) etc=proppp ;; \
	            proacd*) etc=proac ;; \
	            *) etc=prol2tp ;; \
	        esac; \
	        $(call install_file,0644,$$c,$(DESTDIR)/etc/$$etc/$${c##*/},keep); \
	    done; \
	    for h in conf/hooks/*; do \
	        [ -f "$$h" ] || continue; \
	        $(call install_file,0644,$$h,$(DESTDIR)/etc/prol2tp/$${h##*/},keep); \
	    done; \
	    for s in $(SERVICES); do \
	        $(call install_file,0755,conf/$$s.init,$(DESTDIR)/etc/init.d/$$s); \
	        $(call install_file,0644,conf/$$s.default,$(DESTDIR)/etc/default/$$s,keep); \
	        $(call install_file,0644,conf/$$s.service,$(DESTDIR)$(UNIT_DIR)/$$s.service); \
	    done; \
	fi

# Leaves /etc alone: configuration, defaults and hook scripts may have been
# edited, and the init script goes with them.
uninstall:
	@for p in $(SBIN_PROGS) $(OPT_SBIN_PROGS); do rm -fv $(DESTDIR)$(PREFIX)/sbin/$$p; done
	@for p in $(BIN_PROGS) $(OPT_BIN_PROGS); do rm -fv $(DESTDIR)$(PREFIX)/bin/$$p; done
	@for s in $(MAN_SECTIONS); do \
	    for m in man/*.$$s; do rm -fv $(DESTDIR)$(PREFIX)/share/man/man$$s/$${m##*/}; done; \
	done
	@for s in $(SERVICES); do rm -fv $(DESTDIR)$(UNIT_DIR)/$$s.service; done
	@rm -rfv $(DESTDIR)$(PREFIX)/share/doc/prol2tp

# Setup rate and resident memory of a release prol2tpd LNS against the
# prol2tp-bench load generator over loopback (generator on CPU 1, daemon on
# CPU 0): once with the daemon's default receive window, once with 64.
# BENCH_ARGS are passed to both runs (e.g. --concurrency 128, --quick).
# Then proppp-bench: PPP sessions negotiated per second in memory and through
# a release propppd, and its memory per session at 10,000 (PPP_BENCH_ARGS).
# Then proac-bench: PPPoE discoveries per second in memory, and through a
# release proacd in network namespaces (root) with its memory per session at
# 10,000 (AC_BENCH_ARGS).
.PHONY: bench
bench:
	$(CARGO) build --release -p prol2tpd -p propppd -p proacd --bins $(TARGET_FLAG)
	@pin=""; command -v taskset >/dev/null 2>&1 && pin="taskset -c 1"; \
	cpu=""; [ -n "$$pin" ] && cpu="--daemon-cpu 0"; \
	$$pin $(RELEASE_DIR)/prol2tp-bench $$cpu $(BENCH_ARGS) && echo && \
	$$pin $(RELEASE_DIR)/prol2tp-bench $$cpu --lns-window 64 $(BENCH_ARGS) && echo && \
	$$pin $(RELEASE_DIR)/proppp-bench $$cpu $(PPP_BENCH_ARGS) && echo && \
	$$pin $(RELEASE_DIR)/proac-bench $(AC_BENCH_ARGS) && \
	$(RELEASE_DIR)/proac-bench --daemon $(AC_BENCH_ARGS)

# Kernel lab (tests/lab/README.md): boots Debian's kernel under qemu (TCG) with
# the host root mounted read-only and runs the scenarios of tests/lab/scenarios/
# in it, each in its own VM; prints each one's wall time and a summary.
# LAB_SCENARIOS="smoke xl2tpd-pair" picks some. Needs root (apt-get, netns).
.PHONY: lab
lab:
	$(CARGO) build --workspace --bins
	bash tests/lab/run.sh --all

clean:
	$(CARGO) clean
	rm -rf build
