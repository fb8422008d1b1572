# layerfs — build, test and install.
#
#   make                      build layerfs and layerctl into build/
#   make test                 run every test through prove (TAP)
#   make SANITIZE=address,undefined test   the same on a sanitizer build
#   make CC=clang             clang build (warning-free)
#   make install PREFIX=/usr/local
#   make demo                 end-to-end demo on a busybox-static image
#   make bench                benchmarks against the peers (never part of test)
#   make fuzz | stress | analyze   fuzzing, long fault/leak runs, static checks

CC      ?= cc
CFLAGS  ?= -O2 -g
PREFIX  ?= /usr/local
DESTDIR ?=

PKGS := fuse3 libarchive libcrypto libxxhash

# Project flags live apart from CFLAGS so `make CFLAGS=...` cannot drop them.
WARN := -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wstrict-prototypes \
        -Wmissing-prototypes -Wformat=2 -Wvla -Wno-unused-parameter \
        -Wno-missing-field-initializers
PROJECT_CFLAGS := -std=gnu17 $(WARN) -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 \
        -DFUSE_USE_VERSION=314 -Ilib -pthread -MMD -MP \
        $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PROJECT_LDLIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lzstd -lz -pthread

ifneq ($(SANITIZE),)
  BUILD := build-san
  PROJECT_CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer \
                    -fno-sanitize-recover=all
  PROJECT_LDFLAGS += -fsanitize=$(SANITIZE)
else
  BUILD := build
endif

LIB_SRC   := $(wildcard lib/*.c)
FS_SRC    := $(wildcard fs/*.c)
TOOL_SRC  := $(wildcard tools/*.c)
FRONT_SRC := $(wildcard tools/front/*.c)
UNIT_SRC  := $(wildcard tests/unit/*.c)
TTOOL_SRC := $(wildcard tests/tools/*.c)

LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/%.o)
FS_OBJ    := $(FS_SRC:%.c=$(BUILD)/%.o)
TOOL_OBJ  := $(TOOL_SRC:%.c=$(BUILD)/%.o)
# What the front end (tools/front/) carries out itself: run.
RUN_OBJ   := $(addprefix $(BUILD)/tools/,cmd_run.o run_spec.o run_options.o run_io.o ctl_common.o)
UNIT_BIN  := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TTOOL_BIN := $(TTOOL_SRC:tests/tools/%.c=$(BUILD)/test-tools/%)

BINS := $(BUILD)/layerfs
ifneq ($(TOOL_SRC),)
  BINS += $(BUILD)/layerctl $(BUILD)/layerctl-full
endif

.PHONY: all test unit demo bench install clean check-deps fuzz stress analyze
all: $(BINS) $(UNIT_BIN) $(TTOOL_BIN)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(PROJECT_CFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/liblayer.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/layerfs: $(FS_OBJ) $(BUILD)/liblayer.a
	$(CC) $(PROJECT_CFLAGS) $(CFLAGS) $(PROJECT_LDFLAGS) $(LDFLAGS) -o $@ $^ $(PROJECT_LDLIBS)

# layerctl-full: every command.  layerctl: the front end, which runs
# `run` itself and execs layerctl-full for the rest; --as-needed keeps
# the libraries run does not use (libarchive, libcrypto, ...) out of it.
$(BUILD)/layerctl-full: $(TOOL_OBJ) $(BUILD)/liblayer.a
	$(CC) $(PROJECT_CFLAGS) $(CFLAGS) $(PROJECT_LDFLAGS) $(LDFLAGS) -o $@ $^ $(PROJECT_LDLIBS)

$(BUILD)/layerctl: $(FRONT_SRC:%.c=$(BUILD)/%.o) $(RUN_OBJ) $(BUILD)/liblayer.a
	$(CC) $(PROJECT_CFLAGS) $(CFLAGS) $(PROJECT_LDFLAGS) $(LDFLAGS) -o $@ $^ \
		-Wl,--as-needed $(PROJECT_LDLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(BUILD)/liblayer.a
	@mkdir -p $(dir $@)
	$(CC) $(PROJECT_CFLAGS) $(CFLAGS) $(PROJECT_LDFLAGS) $(LDFLAGS) -o $@ $^ $(PROJECT_LDLIBS)

# Programs the test suites drive (not tests themselves).
$(BUILD)/test-tools/%: tests/tools/%.c
	@mkdir -p $(dir $@)
	$(CC) $(PROJECT_CFLAGS) $(CFLAGS) $(PROJECT_LDFLAGS) $(LDFLAGS) -o $@ $<

# Tests: unit binaries and shell suites, all TAP, all through prove.
# LAYERFS_BUILD tells the suites which binaries to test.
test: all
	LAYERFS_BUILD=$(abspath $(BUILD)) prove -f tests/*.t

# Installs missing build dependencies first: a fresh machine has none.
demo:
	./scripts/install-deps.sh
	$(MAKE) all
	./scripts/demo.sh $(abspath $(BUILD))

# The long data-integrity run: 1,000,000 operations over several processes.
stress: all
	LAYERFS_BUILD=$(abspath $(BUILD)) STRESS_OPS=250000 STRESS_PROCS=4 prove -v tests/stress.t
	LAYERFS_BUILD=$(abspath $(BUILD)) LEAK_ROUNDS=40 LEAK_OPS=20000 LEAK_FILES=400 prove -v tests/leak-daemon.t
	LAYERFS_BUILD=$(abspath $(BUILD)) STRESSNG_SECONDS=20 prove -v tests/stress-ng.t
	LAYERFS_BUILD=$(abspath $(BUILD)) KILL_LOAD_SECONDS=20 prove -v tests/fault-kill-daemon.t

fuzz:
	./fuzz/run.sh

# cppcheck and clang's analyzer; analyze/*.supp explain what they let pass.
analyze:
	./scripts/analyze.sh

# The daemon is built if it can be; bench/run.sh skips layerfs, saying why,
# when there is no working binary (LAYERFS=/path/to/layerfs overrides).
bench:
	-$(MAKE) all
	$(MAKE) -C bench
	LAYERFS_BUILD=$(abspath $(BUILD)) ./bench/run.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 0755 $(BINS) $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 man/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/

clean:
	rm -rf build build-san build-fuzz build-analyze

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
