# SPDX-License-Identifier: MIT
#
# tide build.  Run ./configure first (make does it for you when config.mk is
# missing).  Every output goes under $(BUILD) (default build/); check-asan uses
# build-asan/.  V=1 shows the full commands.
#
#   make                  library, tools, tide.pc
#   make check            build everything, run every test (one line each)
#   make check-asan       the same tests, ASan+UBSan build in build-asan/
#   make check-valgrind   the test binaries under valgrind memcheck
#   make bench            build and run tests/bench_*.c
#   make fuzz             libFuzzer (clang) on tests/fuzz/fuzz_*.c, FUZZ_SECONDS each
#   make demo             configure if needed, build, run tide-probe
#   make install / uninstall   honour DESTDIR, PREFIX, LIBDIR, INCLUDEDIR, MANDIR, BINDIR, DATADIR
#   make clean / distclean     remove build dirs / and configure's output
#   make format-check     clang-format --dry-run -Werror over FORMAT_DIRS (CI runs it)

.DEFAULT_GOAL := all
SHELL := /bin/sh

BUILD ?= build
VERSION := $(shell cat VERSION)
VERSION_PARTS := $(subst ., ,$(VERSION))
VERSION_MAJOR := $(word 1,$(VERSION_PARTS))
VERSION_MINOR := $(word 2,$(VERSION_PARTS))
VERSION_PATCH := $(word 3,$(VERSION_PARTS))
SONAME := libtide.so.$(VERSION_MAJOR)

# Goals that must work on an unconfigured tree.
NOCONFIG_GOALS := clean distclean help format-check format
ifneq ($(filter-out $(NOCONFIG_GOALS),$(or $(MAKECMDGOALS),all)),)
# A missing or stale config.mk is (re)made by the rule below, then make restarts.
include config.mk
endif

# ------------------------------------------------------------------ output
ifeq ($(V),1)
Q :=
msg =
else ifneq ($(findstring s,$(firstword -$(MAKEFLAGS))),)
Q := @
msg = @
else
Q := @
msg = @printf '  %-4s %s\n' '$(1)' '$(2)';
endif

# ------------------------------------------------------------------ flags
WARNFLAGS := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wformat=2 -Wundef -Wvla -Werror
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE -O2 -g $(WARNFLAGS)
# CONFIG_CFLAGS (--enable-debug) come after -O2 so they win; CFLAGS, CPPFLAGS
# and LDFLAGS from the command line or environment are appended.
TIDE_CFLAGS = $(BASE_CFLAGS) $(CONFIG_CFLAGS) $(SAN_CFLAGS) $(CFLAGS)
TIDE_CPPFLAGS = -Iapi -I$(BUILD)/include -I$(BUILD) -Iengine $(URING_CFLAGS) $(CPPFLAGS)
TIDE_LDFLAGS = $(SAN_CFLAGS) $(LDFLAGS)
LIB_CFLAGS = $(TIDE_CFLAGS) -fvisibility=hidden -fPIC
LIBS = $(URING_LIBS) -lpthread
ASAN_CFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

# ------------------------------------------------------------------ sources
# Wildcards: files appear over time; a new .c is picked up without editing this.
LIB_SRCS := $(sort $(wildcard engine/*.c engine/*/*.c api/*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)

# One folder per tool: tools/NAME/ holds tide-NAME.c and the objects only
# that tool links; tools/common/ is a static archive every tool links.
TOOL_MAINS := $(sort $(wildcard tools/*/tide-*.c))
TOOL_NAMES := $(patsubst tools/%/,%,$(dir $(TOOL_MAINS)))
TOOLS := $(TOOL_NAMES:%=$(BUILD)/tide-%)
tool_objs = $(patsubst %.c,$(BUILD)/obj/%.o,$(sort $(wildcard tools/$(1)/*.c)))
TOOL_OBJS := $(foreach t,$(TOOL_NAMES),$(call tool_objs,$(t)))
TOOLS_COMMON_OBJS := $(call tool_objs,common)
TOOLS_COMMON_LIB := $(BUILD)/obj/tools/libtools-common.a

# examples/NAME/*.c -> $(BUILD)/examples/NAME, one program per folder
EXAMPLE_SRCS := $(sort $(wildcard examples/*/*.c))
EXAMPLES := $(sort $(patsubst examples/%/,$(BUILD)/examples/%,$(dir $(EXAMPLE_SRCS))))

TEST_SRCS := $(sort $(wildcard tests/test_*.c))
TESTS := $(TEST_SRCS:tests/%.c=$(BUILD)/tests/%)
TEST_HELPER_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard tests/helpers.c))
# Fuzz harnesses: replayed over their committed corpus by make check.
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_NAMES := $(FUZZ_SRCS:tests/fuzz/%.c=%)
FUZZ_REPLAYS := $(FUZZ_NAMES:%=$(BUILD)/fuzz/replay_%)
BENCH_SRCS := $(sort $(wildcard tests/bench_*.c))
BENCHES := $(BENCH_SRCS:tests/%.c=$(BUILD)/%)
SHELL_TESTS := $(sort $(wildcard tests/t_*.sh))

ALL_OBJS := $(LIB_OBJS) $(TOOLS_COMMON_OBJS) $(TOOL_OBJS) \
	$(TEST_HELPER_OBJS) $(TEST_SRCS:%.c=$(BUILD)/obj/%.o) $(BENCH_SRCS:%.c=$(BUILD)/obj/%.o) \
	$(EXAMPLE_SRCS:%.c=$(BUILD)/obj/%.o) \
	$(FUZZ_SRCS:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/tests/fuzz/replay.o

GEN_HDRS := $(BUILD)/include/tide/version.h $(BUILD)/config.h
STATIC_LIB := $(BUILD)/libtide.a
SHARED_LIB := $(BUILD)/libtide.so.$(VERSION)
SHARED_LINKS := $(BUILD)/$(SONAME) $(BUILD)/libtide.so

.PHONY: all lib tools examples tests bench check check-asan check-valgrind check-man check-abi fuzz fuzz-merge \
	install uninstall clean distclean demo format-check format help FORCE
.SUFFIXES:
.DELETE_ON_ERROR:
# Objects of pattern-built executables are not throw-away intermediates.
.SECONDARY: $(ALL_OBJS)

all: lib tools examples $(BUILD)/tide.pc
lib: $(STATIC_LIB) $(SHARED_LIB) $(SHARED_LINKS)
tools: $(TOOLS)
examples: $(EXAMPLES)
tests: $(TESTS) $(BENCHES) $(FUZZ_REPLAYS)

# ------------------------------------------------------------------ configure
config.mk: configure
	@if [ -f config.mk ] && grep -q '^CONFIGURED_WITH' config.mk; then \
		echo "configure changed since config.mk was written; re-running: $(CONFIGURED_WITH)"; \
		$(or $(CONFIGURED_WITH),./configure); \
	elif [ -x .ci/run ] && [ -n '$(filter demo,$(MAKECMDGOALS))' ]; then \
		echo "config.mk not found: running ./configure"; \
		./configure || { .ci/run deps && ./configure; }; \
	else \
		echo "config.mk not found: running ./configure"; \
		./configure; \
	fi

# configure writes config.h just after config.mk.
config.h: config.mk
	@test -f $@ || { echo "config.h is missing: re-run ./configure" >&2; exit 1; }

$(BUILD)/config.h: config.h
	@mkdir -p $(@D)
	$(call msg,GEN,$@)cp $< $@

$(BUILD)/include/tide/version.h: api/tide/version.h.in VERSION
	@mkdir -p $(@D)
	$(call msg,GEN,$@)sed -e 's/@TIDE_VERSION_MAJOR@/$(VERSION_MAJOR)/' \
		-e 's/@TIDE_VERSION_MINOR@/$(VERSION_MINOR)/' \
		-e 's/@TIDE_VERSION_PATCH@/$(VERSION_PATCH)/' \
		-e 's/@TIDE_VERSION@/$(VERSION)/' $< >$@.tmp && mv -f $@.tmp $@

# gen_pc PREFIX LIBDIR INCLUDEDIR OUT: tide.pc, with ${prefix} where it fits
# so pkg-config --define-prefix can relocate it.
gen_pc = p='$(1)'; l='$(2)'; i='$(3)'; \
	case "$$l" in "$$p"/*) l="\$${prefix}$${l\#"$$p"}";; esac; \
	case "$$i" in "$$p"/*) i="\$${prefix}$${i\#"$$p"}";; esac; \
	sed -e "s|@PREFIX@|$$p|" -e "s|@LIBDIR@|$$l|" -e "s|@INCLUDEDIR@|$$i|" \
		-e 's|@VERSION@|$(VERSION)|' \
		-e 's|@REQUIRES_PRIVATE@|$(if $(filter 1,$(URING_PC)),liburing)|' \
		-e '/^Requires.private: *$$/d' tide.pc.in >$(4)

$(BUILD)/tide.pc: tide.pc.in VERSION config.mk
	@mkdir -p $(@D)
	$(call msg,GEN,$@)$(call gen_pc,$(PREFIX),$(LIBDIR),$(INCLUDEDIR),$@)

# ------------------------------------------------------------------ compile
# The stamp changes when the flags do (configure, CFLAGS=..., SAN_CFLAGS=...),
# so everything compiled with other flags is rebuilt.  It leaves out the -I
# paths, which name $(BUILD): build and $(abspath build) are the same tree.
FLAGS_STAMP := $(BUILD)/flags.stamp
FLAGS_NOW = $(CC) $(TIDE_CFLAGS) $(URING_CFLAGS) $(CPPFLAGS) $(CMOCKA_CFLAGS) $(TIDE_LDFLAGS)

$(FLAGS_STAMP): FORCE
	@mkdir -p $(@D)
	@printf '%s\n' '$(FLAGS_NOW)' >$@.$$$$.tmp; \
	if cmp -s $@.$$$$.tmp $@; then rm -f $@.$$$$.tmp; else mv -f $@.$$$$.tmp $@; fi

# Objects are written to a temporary name and renamed, so two makes sharing
# one tree never leave a half-written file behind.
compile = $(CC) $(1) $(TIDE_CPPFLAGS) -MMD -MP -MF $(@:.o=.d) -MT $@ \
	-c $< -o $@.$$$$.tmp && mv -f $@.$$$$.tmp $@

$(BUILD)/obj/engine/%.o: engine/%.c $(FLAGS_STAMP) | $(GEN_HDRS)
	@mkdir -p $(@D)
	$(call msg,CC,$<)$(call compile,$(LIB_CFLAGS))

$(BUILD)/obj/api/%.o: api/%.c $(FLAGS_STAMP) | $(GEN_HDRS)
	@mkdir -p $(@D)
	$(call msg,CC,$<)$(call compile,$(LIB_CFLAGS))

# Tools: a tool's own headers sit beside its sources; -Itools/common finds
# the shared ones.
$(BUILD)/obj/tools/%.o: tools/%.c $(FLAGS_STAMP) | $(GEN_HDRS)
	@mkdir -p $(@D)
	$(call msg,CC,$<)$(call compile,$(TIDE_CFLAGS) -Itools/common)

# tide-gil --python finds its CPython scripts in the tree or, installed, here.
DATADIR ?= $(PREFIX)/share
GIL_SCRIPTS := $(sort $(wildcard tools/gil/*.py))
$(BUILD)/obj/tools/gil/py.o: TIDE_CFLAGS += -DGIL_SRCDIR='"$(CURDIR)/tools/gil"' \
	-DGIL_DATADIR='"$(DATADIR)/tide"' -DGIL_BINDIR='"$(BINDIR)"'
$(BUILD)/obj/tools/gil/py.o: config.mk

$(BUILD)/obj/examples/%.o: examples/%.c $(FLAGS_STAMP) | $(GEN_HDRS)
	@mkdir -p $(@D)
	$(call msg,CC,$<)$(call compile,$(TIDE_CFLAGS))

$(BUILD)/obj/tests/%.o: tests/%.c $(FLAGS_STAMP) | $(GEN_HDRS)
	@mkdir -p $(@D)
	$(call msg,CC,$<)$(call compile,$(TIDE_CFLAGS) $(CMOCKA_CFLAGS) $(TEST_TOOLS_CPPFLAGS))

-include $(ALL_OBJS:.o=.d)

# ------------------------------------------------------------------ link
$(STATIC_LIB): $(LIB_OBJS)
	@mkdir -p $(@D)
	$(call msg,AR,$@)rm -f $@.tmp && $(AR) rcs $@.tmp $^ && mv -f $@.tmp $@

$(SHARED_LIB): $(LIB_OBJS) api/libtide.map
	@mkdir -p $(@D)
	$(call msg,LD,$@)$(CC) -shared -Wl,-soname,$(SONAME) \
		-Wl,--version-script=api/libtide.map -Wl,-z,defs $(TIDE_LDFLAGS) \
		-o $@.tmp $(LIB_OBJS) $(LIBS) && mv -f $@.tmp $@

$(BUILD)/$(SONAME): $(SHARED_LIB)
	$(Q)ln -sf $(notdir $<) $@
$(BUILD)/libtide.so: $(BUILD)/$(SONAME)
	$(Q)ln -sf $(notdir $<) $@

# link OBJS EXTRA_LIBS: an executable against the static library.  A test may
# add link flags (e.g. -Wl,--wrap=sym for fault injection) in tests/NAME.ldflags.
link = $(CC) $(TIDE_LDFLAGS) -o $@.tmp $(1) $(STATIC_LIB) $(2) $(LIBS) -lm && mv -f $@.tmp $@

$(TOOLS_COMMON_LIB): $(TOOLS_COMMON_OBJS)
	@mkdir -p $(@D)
	$(call msg,AR,$@)rm -f $@.tmp && $(AR) rcs $@.tmp $^ && mv -f $@.tmp $@

# tide-NAME: the objects of tools/NAME/, then the tools archive, then libtide.
define tool_rule
$(BUILD)/tide-$(1): $(call tool_objs,$(1)) $(TOOLS_COMMON_LIB) $(STATIC_LIB)
	$$(call msg,LD,$$@)$$(call link,$(call tool_objs,$(1)) $(TOOLS_COMMON_LIB))
endef
$(foreach t,$(TOOL_NAMES),$(eval $(call tool_rule,$(t))))

# test_tools tests tools/common (the option parser): its headers and archive.
$(BUILD)/obj/tests/test_tools.o: TEST_TOOLS_CPPFLAGS := -Itools/common
$(BUILD)/tests/test_tools: $(TOOLS_COMMON_LIB)
$(BUILD)/tests/test_tools: TEST_TOOLS_LIB := $(TOOLS_COMMON_LIB)

$(BUILD)/tests/test_%: $(BUILD)/obj/tests/test_%.o $(TEST_HELPER_OBJS) $(STATIC_LIB) \
		$(wildcard tests/*.ldflags)
	@mkdir -p $(@D)
	$(call msg,LD,$@)$(call link,$< $(TEST_HELPER_OBJS) $(TEST_TOOLS_LIB) \
		$$(cat tests/test_$*.ldflags 2>/dev/null),$(CMOCKA_LIBS))

# example_rule NAME: $(BUILD)/examples/NAME from examples/NAME/*.c
define example_rule
$(BUILD)/examples/$(1): $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard examples/$(1)/*.c)) $(STATIC_LIB)
	@mkdir -p $$(@D)
	$$(call msg,LD,$$@)$$(call link,$$(filter %.o,$$^))
endef
$(foreach e,$(notdir $(EXAMPLES)),$(eval $(call example_rule,$(e))))

$(BUILD)/fuzz/replay_%: $(BUILD)/obj/tests/fuzz/%.o $(BUILD)/obj/tests/fuzz/replay.o $(STATIC_LIB)
	@mkdir -p $(@D)
	$(call msg,LD,$@)$(call link,$< $(BUILD)/obj/tests/fuzz/replay.o)

$(BUILD)/bench_%: $(BUILD)/obj/tests/bench_%.o $(STATIC_LIB)
	$(call msg,LD,$@)$(call link,$<)

# ------------------------------------------------------------------ tests
# Each test writes PASS, FAIL or SKIP to $(RES_DIR)/NAME.res and its output to
# NAME.log; the check recipe then prints the summary.  Exit 77 means skip; so
# does a cmocka binary whose cases were all skipped (io_uring unavailable).
TEST_TIMEOUT ?= 300
TEST_WRAPPER ?=
RES_DIR ?= $(BUILD)/tests/results
# CHECK_SCRIPTS=0 runs only the cmocka binaries (used by check-valgrind).
CHECK_SCRIPTS ?= 1
VALGRIND := valgrind --fair-sched=yes --error-exitcode=99 --leak-check=full \
	--errors-for-leak-kinds=definite --track-fds=no -q

TEST_ENV = TIDE_BUILD='$(abspath $(BUILD))' TIDE_SRC='$(CURDIR)' TIDE_CC='$(CC)' \
	TIDE_SAN_CFLAGS='$(SAN_CFLAGS)' TIDE_URING_LIBS='$(URING_LIBS)' \
	UBSAN_OPTIONS=print_stacktrace=1

BIN_RESULTS := $(TESTS:$(BUILD)/tests/%=$(RES_DIR)/%.res) $(FUZZ_NAMES:%=$(RES_DIR)/%.res)
SCRIPT_RESULTS := $(SHELL_TESTS:tests/%.sh=$(RES_DIR)/%.res) \
	$(RES_DIR)/check-man.res $(RES_DIR)/check-abi.res $(RES_DIR)/check-seam.res
# The stream, server, process, file, services, task and net tests again
# with faults injected on the seam (engine/core/fault.c): short transfers,
# late and reordered completions, spurious EAGAIN and EINTR (epoll),
# multishots ended early, a full SQ (io_uring), and operations the kernel
# cancelled before they ran (cancel); three seeds each, every backend.
# Under cancel the library issues its own operations again, and the tests
# redo the raw ones they issue (T_OP, T_AWAIT, t_connect in
# tests/helpers.h) or keep the kind off where the -ECANCELED they assert
# must be their own (t_loop_exact); transfers on sockets and pipes loop
# over short ones (t_send_all, t_recv_all, t_read_all).  test_fault covers
# cancel, alloc and each kind's edges.
FAULT_TESTS := test_stream test_process test_file test_services test_task test_net
FAULT_SEEDS := 1 2 3
FAULT_SPEC = seed=$(2)$(FAULT_SPEC_$(1))
FAULT_SPEC_test_stream := ,cancel=10
FAULT_SPEC_test_process := ,cancel=10
FAULT_SPEC_test_services := ,cancel=10
FAULT_SPEC_test_file := ,cancel=10
FAULT_SPEC_test_task := ,cancel=10
FAULT_SPEC_test_net := ,cancel=10
fault_seeds = $(or $(FAULT_SEEDS_$(1)),$(FAULT_SEEDS))
FAULT_RESULTS := $(foreach t,$(FAULT_TESTS),$(foreach s,$(call fault_seeds,$(t)),$(RES_DIR)/fault-$(t)-$(s).res))
ALL_RESULTS := $(BIN_RESULTS) $(if $(filter 1,$(CHECK_SCRIPTS)),$(SCRIPT_RESULTS) $(FAULT_RESULTS))

# run_test NAME COMMAND
run_test = mkdir -p $(RES_DIR); rc=0; \
	$(TEST_ENV) timeout -k 10 $(TEST_TIMEOUT) $(2) >$(RES_DIR)/$(1).log 2>&1 </dev/null || rc=$$?; \
	case $$rc in \
	0) if grep -q '^\[  SKIPPED \]' $(RES_DIR)/$(1).log && \
	      ! grep -q '^\[       OK \]' $(RES_DIR)/$(1).log; then r=SKIP; else r=PASS; fi;; \
	77) r=SKIP;; \
	124|137) r=FAIL; echo "timed out after $(TEST_TIMEOUT)s" >>$(RES_DIR)/$(1).log;; \
	*) r=FAIL;; \
	esac; \
	echo $$r >$(RES_DIR)/$(1).res; \
	if [ $$r = FAIL ]; then echo "FAIL $(1) (exit $$rc, log: $(RES_DIR)/$(1).log)"; \
	else echo "$$r $(1)"; fi

$(RES_DIR)/test_%.res: $(BUILD)/tests/test_% FORCE
	@$(call run_test,test_$*,$(TEST_WRAPPER) $<)

$(RES_DIR)/fuzz_%.res: $(BUILD)/fuzz/replay_fuzz_% FORCE
	@$(call run_test,fuzz_$*,$(TEST_WRAPPER) $< tests/fuzz/corpus/fuzz_$*)

define fault_rule
$(RES_DIR)/fault-$(1)-$(2).res: FORCE
	@spec='$(call FAULT_SPEC,$(1),$(2))'; \
	$$(call run_test,fault-$(1)-$(2),env TIDE_FAULT=$$$$spec $$(TEST_WRAPPER) $(BUILD)/tests/$(1))
endef
$(foreach t,$(FAULT_TESTS),$(foreach s,$(call fault_seeds,$(t)),$(eval $(call fault_rule,$(t),$(s)))))

$(RES_DIR)/t_%.res: tests/t_%.sh all FORCE
	@$(call run_test,t_$*,$(SHELL) $<)

$(RES_DIR)/check-%.res: tests/check-%.sh all FORCE
	@$(call run_test,check-$*,$(SHELL) $<)

check: all tests
	@$(MAKE) --no-print-directory run-tests

.PHONY: run-tests
run-tests: $(ALL_RESULTS)
	@p=0; f=0; s=0; \
	for r in $(ALL_RESULTS); do \
		case $$(cat $$r) in \
		PASS) p=$$((p + 1));; \
		SKIP) s=$$((s + 1));; \
		*) f=$$((f + 1)); n=$$(basename $$r .res); \
		   echo "--- $$n: last lines of $${r%.res}.log"; tail -n 30 $${r%.res}.log;; \
		esac; \
	done; \
	echo "$$p passed, $$f failed, $$s skipped"; \
	for b in io_uring epoll; do \
		bp=$$(cat $(RES_DIR)/*.log 2>/dev/null | grep -c "^\[ BACKEND  \] $$b .* PASS$$"); \
		bf=$$(cat $(RES_DIR)/*.log 2>/dev/null | grep -c "^\[ BACKEND  \] $$b .* FAIL$$"); \
		printf '%s' "$$b: $$bp test groups passed, $$bf failed; "; \
	done; echo; \
	[ $$f -eq 0 ]

check-asan:
	@$(MAKE) --no-print-directory BUILD=build-asan SAN_CFLAGS='$(ASAN_CFLAGS)' check

check-valgrind: all tests
	@[ '$(CONFIG_VALGRIND)' = 1 ] || { echo "check-valgrind: configured without valgrind support (./configure --enable-valgrind; Debian: valgrind)" >&2; exit 1; }
	@$(MAKE) --no-print-directory run-tests CHECK_SCRIPTS=0 RES_DIR=$(BUILD)/tests/valgrind \
		TEST_WRAPPER='env TIDE_VALGRIND=1 $(VALGRIND)'

check-man check-abi: all
	@$(TEST_ENV) $(SHELL) tests/$@.sh

bench: $(BENCHES)
	@for b in $(BENCHES); do echo "== $$b"; $$b || exit 1; done

demo: all
	@echo "== $(BUILD)/tide-probe"
	@$(BUILD)/tide-probe

# ------------------------------------------------------------------ fuzz
# make fuzz: build every tests/fuzz/fuzz_*.c with clang's libFuzzer (plus
# ASan and UBSan) in build-fuzz/ and run each for FUZZ_SECONDS, starting
# from its committed corpus.  New inputs land in build-fuzz/fuzz/corpus-NAME,
# crashes in build-fuzz/fuzz/ (crash-*); make fuzz-merge minimises the new
# inputs into tests/fuzz/corpus/NAME/ for committing.  Not part of check:
# check replays the committed corpus with the ordinary compiler.
FUZZ_SECONDS ?= 60
FUZZ_CC ?= clang
FUZZ_FLAGS ?= -timeout=20 -rss_limit_mb=4096
FUZZ_SAN := -fsanitize=address,undefined,fuzzer-no-link -fno-omit-frame-pointer \
	-fno-sanitize-recover=all
FUZZ_BINS := $(FUZZ_NAMES:%=$(BUILD)/fuzz/%)

fuzz fuzz-merge:
	@$(MAKE) --no-print-directory BUILD=build-fuzz CC='$(FUZZ_CC)' \
		SAN_CFLAGS='$(FUZZ_SAN)' $@-run

$(BUILD)/fuzz/fuzz_%: $(BUILD)/obj/tests/fuzz/fuzz_%.o $(STATIC_LIB)
	@mkdir -p $(@D)
	$(call msg,LD,$@)$(CC) $(TIDE_LDFLAGS) -fsanitize=fuzzer -o $@.tmp $< \
		$(STATIC_LIB) $(LIBS) -lm && mv -f $@.tmp $@

.PHONY: fuzz-run fuzz-merge-run
fuzz-run: $(FUZZ_BINS)
	@for n in $(FUZZ_NAMES); do \
		mkdir -p $(BUILD)/fuzz/corpus-$$n; \
		echo "== $$n for $(FUZZ_SECONDS) s"; \
		$(BUILD)/fuzz/$$n $(FUZZ_FLAGS) -max_total_time=$(FUZZ_SECONDS) \
			-print_final_stats=1 -artifact_prefix=$(BUILD)/fuzz/ \
			$(BUILD)/fuzz/corpus-$$n tests/fuzz/corpus/$$n || exit 1; \
	done

fuzz-merge-run: $(FUZZ_BINS)
	@for n in $(FUZZ_NAMES); do \
		mkdir -p tests/fuzz/corpus/$$n $(BUILD)/fuzz/corpus-$$n; \
		$(BUILD)/fuzz/$$n -merge=1 tests/fuzz/corpus/$$n \
			$(BUILD)/fuzz/corpus-$$n || exit 1; \
	done

# ------------------------------------------------------------------ install
MAN_PAGES := $(sort $(wildcard man/man1/*.1 man/man3/*.3 man/man7/*.7))
INST_LIB := $(DESTDIR)$(LIBDIR)
INST_INC := $(DESTDIR)$(INCLUDEDIR)
PUB_HDRS := $(sort $(wildcard api/tide/*.h))

# The directories install needs; those it had to create (parents included)
# are listed in $(INST_DIRS_LIST), so uninstall removes exactly those, once
# empty, and never a directory that was there before.
INST_DIRS = $(INST_LIB)/pkgconfig $(INST_INC)/tide $(DESTDIR)$(BINDIR) \
	$(DESTDIR)$(DATADIR)/tide \
	$(addprefix $(DESTDIR)$(MANDIR)/,$(sort $(patsubst %/,%,$(dir $(MAN_PAGES:man/%=%)))))
INST_DIRS_LIST = $(DESTDIR)$(DATADIR)/tide/installed-dirs

install: all
	$(call msg,INST,$(DESTDIR)$(PREFIX))new=; for d in $(INST_DIRS); do \
		while [ ! -d "$$d" ]; do new="$$new $$d"; d=$$(dirname "$$d"); done; \
	done; \
	install -d $(INST_DIRS) && \
	{ cat $(INST_DIRS_LIST) 2>/dev/null; \
	  for d in $$new; do printf '%s\n' "$${d#$(DESTDIR)}"; done; } | \
		LC_ALL=C sort -r -u >$(INST_DIRS_LIST).tmp && \
	mv -f $(INST_DIRS_LIST).tmp $(INST_DIRS_LIST)
	$(Q)install -m 644 $(STATIC_LIB) $(INST_LIB)/
	$(Q)install -m 755 $(SHARED_LIB) $(INST_LIB)/
	$(Q)ln -sf $(notdir $(SHARED_LIB)) $(INST_LIB)/$(SONAME)
	$(Q)ln -sf $(SONAME) $(INST_LIB)/libtide.so
	$(Q)$(call gen_pc,$(PREFIX),$(LIBDIR),$(INCLUDEDIR),$(INST_LIB)/pkgconfig/tide.pc)
	$(Q)install -m 644 api/tide.h $(INST_INC)/tide.h
	$(Q)install -m 644 $(PUB_HDRS) $(BUILD)/include/tide/version.h $(INST_INC)/tide/
	$(Q)for m in $(MAN_PAGES); do \
		install -m 644 $$m $(DESTDIR)$(MANDIR)/$${m#man/} || exit 1; done
	$(Q)$(if $(TOOLS),install -m 755 $(TOOLS) $(DESTDIR)$(BINDIR)/,:)
	$(Q)install -d $(DESTDIR)$(DATADIR)/tide && install -m 644 $(GIL_SCRIPTS) $(DESTDIR)$(DATADIR)/tide/

uninstall:
	$(call msg,RM,$(DESTDIR)$(PREFIX))rm -f $(INST_LIB)/libtide.a $(INST_LIB)/$(notdir $(SHARED_LIB)) \
		$(INST_LIB)/$(SONAME) $(INST_LIB)/libtide.so $(INST_LIB)/pkgconfig/tide.pc \
		$(INST_INC)/tide.h $(addprefix $(INST_INC)/tide/,$(notdir $(PUB_HDRS)) version.h) \
		$(addprefix $(DESTDIR)$(MANDIR)/,$(MAN_PAGES:man/%=%)) \
		$(addprefix $(DESTDIR)$(BINDIR)/,$(notdir $(TOOLS))) \
		$(addprefix $(DESTDIR)$(DATADIR)/tide/,$(notdir $(GIL_SCRIPTS)))
	$(Q)if [ -f $(INST_DIRS_LIST) ]; then \
		dirs=$$(cat $(INST_DIRS_LIST)); rm -f $(INST_DIRS_LIST); \
		for d in $$dirs; do rmdir "$(DESTDIR)$$d" 2>/dev/null || :; done; \
	fi

# ------------------------------------------------------------------ misc
# What format-check (run by CI) and format cover: every C source and header
# of the library, the tools, the tests and the examples.
FORMAT_DIRS = engine engine/core engine/epoll engine/uring api api/tide tools/bench tools/common tools/cp tools/echo tools/gil tools/probe tests tests/fuzz examples/cksum-tree examples/http examples/proxy
FORMAT_SRCS = $(sort $(wildcard $(addsuffix /*.[ch],$(FORMAT_DIRS))))

format-check:
	@command -v clang-format >/dev/null || { echo "format-check: clang-format not installed (Debian: clang-format)" >&2; exit 1; }
	clang-format --dry-run -Werror $(FORMAT_SRCS)

format:
	clang-format -i $(FORMAT_SRCS)

clean:
	rm -rf build build-asan build-fuzz $(BUILD)

distclean: clean
	rm -f config.mk config.h config.log

help:
	@sed -n '3,16s/^# \{0,1\}//p' Makefile

FORCE:
