# tapstack build. `make` builds everything into build/, `make test` runs every test (unit,
# integration when root, and the ASan+UBSan build), `make demo` runs the tour of the TCP states in
# a namespace (`make demo STEP=N`: one step; `make demo WATCH=1`: in a browser too), `make run`
# keeps the servers up in one.
# demo, run and test install the Debian packages they need first (tools/deps.sh), then build only
# what they run: the demo and run targets never compile the unit tests (which need check.h).
# SAN=1 builds with AddressSanitizer + UndefinedBehaviorSanitizer into build/san/.

CC ?= gcc
ifeq ($(origin CC),default)
CC := gcc
endif

ifeq ($(SAN),1)
BUILD ?= build/san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT := -O1
else
BUILD ?= build
SANFLAGS :=
OPT := -O2
endif

CFLAGS_BASE := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -g $(OPT) -Iinclude -Istack $(SANFLAGS)
CFLAGS ?=
ALL_CFLAGS := $(CFLAGS_BASE) $(CFLAGS) -MMD -MP
LDFLAGS_ALL := $(SANFLAGS) $(LDFLAGS)
LIBS := -lpthread -lm

OBJ := $(BUILD)/obj

CORE_SRC := $(sort $(wildcard stack/*.c stack/tcp/*.c stack/wire/*.c))
DRV_SRC := $(sort $(wildcard drivers/*.c))
SOCK_SRC := $(sort $(wildcard socket/*.c))
APPCOMMON_SRC := $(sort $(wildcard apps/common/*.c))
APP_SRC := $(sort $(wildcard apps/*.c))
TOOL_SRC := $(sort $(wildcard tools/*.c))
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNITLIB_SRC := $(sort $(filter-out tests/unit/test_%.c,$(wildcard tests/unit/*.c)))
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
BENCH_SRC := $(sort $(wildcard tests/bench/bench_*.c))
# Plain libc programs the integration tests run under tapstack-run (no tapstack code in them).
PROG_SRC := $(sort $(wildcard tests/integration/prog_*.c))

# The bench's own clients and kernel-side servers (plain C on the kernel's sockets, no tapstack).
BENCHTOOL_SRC := $(sort $(filter-out $(BENCH_SRC),$(wildcard tests/bench/*.c)))

objs = $(patsubst %.c,$(OBJ)/%.o,$(1))

# The live TCP page's files (apps/web/), embedded into the apps' library as byte arrays.
WEB_SRC := $(sort $(wildcard apps/web/*))
WEB_GEN := $(BUILD)/gen/webassets.c
WEB_OBJ := $(OBJ)/gen/webassets.o

# libtapstack-preload.so (tapstack-run): the libraries again, position-independent, in their
# own directory (build/pic), and the preload library's own files.
PRELOAD_SRC := $(sort $(wildcard preload/*.c))
PIC := $(BUILD)/pic
picobjs = $(patsubst %.c,$(PIC)/obj/%.o,$(1))
PRELOAD_SO := $(BUILD)/lib/libtapstack-preload.so

CORE_LIB := $(BUILD)/libtapstack.a
DRV_LIB := $(BUILD)/libtapstack-drivers.a
SOCK_LIB := $(BUILD)/libtapstack-socket.a
APPCOMMON_LIB := $(BUILD)/libtapstack-apps.a

# apps/echo_server.c -> build/bin/tapstack-echo-server; tools/stat.c -> build/bin/tapstack-stat
binname = $(BUILD)/bin/tapstack-$(subst _,-,$(basename $(notdir $(1))))
APP_BINS := $(foreach f,$(APP_SRC) $(TOOL_SRC),$(call binname,$(f)))
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(BUILD)/tests/%,$(FUZZ_SRC))
BENCH_BINS := $(patsubst tests/bench/%.c,$(BUILD)/tests/%,$(BENCH_SRC))
BENCHTOOL_BINS := $(patsubst tests/bench/%.c,$(BUILD)/bench/%,$(BENCHTOOL_SRC))
PROG_BINS := $(patsubst tests/integration/%.c,$(BUILD)/tests/%,$(PROG_SRC))

ALL_LIBS := $(APPCOMMON_LIB) $(SOCK_LIB) $(DRV_LIB) $(CORE_LIB)

# What `make demo` and `make run` run, and nothing more (no unit tests: they need check.h).
DEMO_BINS := $(BUILD)/bin/tapstack-sock $(BUILD)/bin/tapstack-two-stacks $(BUILD)/bin/tapstack-stat
RUN_BINS := $(BUILD)/bin/tapstack-httpd $(BUILD)/bin/tapstack-echo-server $(BUILD)/bin/tapstack-stat

.PHONY: all libs apps preload prog-bins demo-bins run-bins unit-bins fuzz-bins bench-bins test unit integration san demo run bench fuzz clean format format-check deps-check docs-check
all: libs apps preload unit-bins fuzz-bins bench-bins prog-bins

libs: $(ALL_LIBS)
apps: $(APP_BINS)
demo-bins: $(DEMO_BINS)
run-bins: $(RUN_BINS)
unit-bins: $(UNIT_BINS)
fuzz-bins: $(FUZZ_BINS)
bench-bins: $(BENCH_BINS) $(BENCHTOOL_BINS)
prog-bins: $(PROG_BINS)

$(OBJ)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

define mklib
$(1): $(2)
	@mkdir -p $$(dir $$@)
	@rm -f $$@
	ar rcs $$@ $$^
endef
$(eval $(call mklib,$(CORE_LIB),$(call objs,$(CORE_SRC))))
$(eval $(call mklib,$(DRV_LIB),$(call objs,$(DRV_SRC))))
$(eval $(call mklib,$(SOCK_LIB),$(call objs,$(SOCK_SRC))))
$(eval $(call mklib,$(APPCOMMON_LIB),$(call objs,$(APPCOMMON_SRC)) $(WEB_OBJ)))

$(WEB_GEN): $(WEB_SRC) tools/embed-web.sh
	@mkdir -p $(dir $@)
	tools/embed-web.sh $@ $(WEB_SRC)

$(WEB_OBJ): $(WEB_GEN)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Iapps -c $< -o $@

define mkbin
$(call binname,$(1)): $(call objs,$(1)) $(ALL_LIBS)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS_ALL) -o $$@ $$< $(ALL_LIBS) $$(LIBS)
endef
$(foreach f,$(APP_SRC) $(TOOL_SRC),$(eval $(call mkbin,$(f))))

# The tapstack code inside the preload library calls libc under other names (close ->
# tsr_close, ...: preload/real.syms), which preload/real.c sends straight to libc: the runtime's
# own descriptors never pass through the library's own close(), read(), socket()... Hidden
# visibility: calls between them stay direct, as in the static libraries.
$(PIC)/obj/preload/%.o: preload/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -fPIC -c $< -o $@
$(PIC)/obj/%.o: %.c preload/real.syms
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MF $@.d -MT $@ -fPIC -fvisibility=hidden -c $< -o $@.tmp
	objcopy --redefine-syms=preload/real.syms $@.tmp $@
	@rm -f $@.tmp
PIC_LIBS := $(PIC)/libtapstack-apps.a $(PIC)/libtapstack-socket.a $(PIC)/libtapstack-drivers.a \
	$(PIC)/libtapstack.a
$(eval $(call mklib,$(PIC)/libtapstack.a,$(call picobjs,$(CORE_SRC))))
$(eval $(call mklib,$(PIC)/libtapstack-drivers.a,$(call picobjs,$(DRV_SRC))))
$(eval $(call mklib,$(PIC)/libtapstack-socket.a,$(call picobjs,$(SOCK_SRC))))
$(eval $(call mklib,$(PIC)/libtapstack-apps.a,$(call picobjs,$(APPCOMMON_SRC))))
# Only the calls it stands in for are exported (preload/preload.map); -z defs: nothing left
# unresolved.
$(PRELOAD_SO): $(call picobjs,$(PRELOAD_SRC)) $(PIC_LIBS) preload/preload.map
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -shared -Wl,--version-script=preload/preload.map -Wl,-z,defs \
		-o $@ $(call picobjs,$(PRELOAD_SRC)) $(PIC_LIBS) $(LIBS) -ldl
preload: $(PRELOAD_SO)

$(BUILD)/tests/%: $(OBJ)/tests/unit/%.o $(call objs,$(UNITLIB_SRC)) $(ALL_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $< $(call objs,$(UNITLIB_SRC)) $(ALL_LIBS) $$(pkg-config --libs check) $(LIBS)

$(BUILD)/tests/fuzz_%: $(OBJ)/tests/fuzz/fuzz_%.o $(OBJ)/tests/fuzz/main.o $(ALL_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBS)

$(BUILD)/tests/bench_%: $(OBJ)/tests/bench/bench_%.o $(ALL_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $< $(ALL_LIBS) $(LIBS)

$(BUILD)/bench/%: $(OBJ)/tests/bench/%.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $< $(LIBS)

# ksrv hashes uploads with the apps' SHA-256, as tapstack-httpd does.
$(BUILD)/bench/ksrv: $(OBJ)/tests/bench/ksrv.o $(OBJ)/apps/common/sha256.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBS)

# Never sanitized: they stand for the unmodified programs tapstack-run runs.
$(BUILD)/tests/prog_%: tests/integration/prog_%.c
	@mkdir -p $(dir $@)
	$(CC) $(filter-out $(SANFLAGS),$(CFLAGS_BASE)) -O2 -o $@ $< -lpthread
# tapstack-run must refuse a statically linked program.
$(BUILD)/tests/prog_static: tests/integration/prog_static.c
	@mkdir -p $(dir $@)
	$(CC) $(filter-out $(SANFLAGS),$(CFLAGS_BASE)) -O2 -static -o $@ $<

# The README's test command: everything, ending with one "N passed, N failed" line.
test:
	@tests/run-all.sh

unit: all
	@tests/run-unit.sh $(BUILD)

integration: all
	@tests/run-integration.sh $(BUILD)

san:
	$(MAKE) SAN=1 all

# The layers of stack/ call only down: lists who calls whom (from the objects' symbol tables)
# and fails on an upward call or a loop of files outside TCP; reports the longest function of
# stack/ and fails on one of 80 lines or more (tools/layers-check.py).
deps-check: $(CORE_LIB)
	@tools/layers-check.py $(BUILD)

# docs/ against the code: every `file:function` it names is defined there, and docs/states.md
# lists every trace cause the code raises, where it is raised (tools/docs-check.py).
docs-check:
	@tools/docs-check.py

# The scripts check the packages, then build their binaries (make demo-bins / run-bins): nothing
# here may compile first, or a fresh machine fails before the packages are installed.
demo:
	@tools/demo.sh $(if $(STEP),--step $(STEP)) $(if $(filter-out 0,$(WATCH)),--watch)

run:
	@tools/run.sh

# make bench [ONLY=conn,rr,...] [BENCH_QUICK=1] [BENCH_CONNS=N]: see docs/bench.md.
bench: all
	@ONLY="$(ONLY)" BENCH_QUICK="$(BENCH_QUICK)" BENCH_CONNS="$(BENCH_CONNS)" tests/bench/run.sh $(BUILD)

# Optional: coverage-guided fuzzing with clang's libFuzzer (FUZZ_TIME seconds per target).
FUZZ_TIME ?= 60
fuzz:
	@tests/fuzz/libfuzzer.sh $(FUZZ_TIME)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	@clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj $(PIC)/obj -name '*.d' 2>/dev/null)
