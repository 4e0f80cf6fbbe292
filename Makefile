# cbup: one GNU Makefile, no configure step.
#   make            build ./cbup
#   make check      unit tests, fuzz-corpus replay, end-to-end and interop tests
#   make demo       install what is missing, build, run the main job on real data
#   make bench      cbup beside bup on generated data (figures, never asserts)
#   make fuzz       libFuzzer targets (clang)
#   make fuzz-run   a campaign: FUZZ_RUNS=10000000 (or FUZZ_TIME=s) per target
#   make check-honest  the test scripts against a cbup that always fails
#   make check-layers  the library's layering: no upward use, no cycle
#   make install    PREFIX=/usr/local DESTDIR= BUP_SYMLINK=1 (a bup symlink)
# Knobs: CC=gcc|clang, SANITIZE=address,undefined, O=build dir.

CC ?= cc
# Build in parallel by default: the machine has few cores, use them all.
MAKEFLAGS += -j$(shell nproc 2>/dev/null || echo 2)
O ?= build
SANITIZE ?=
PKGS := libdeflate zlib libcrypto readline fuse3

CFLAGS ?= -O2 -g
# libfuse3's headers live in their own directory (fuse.h is fuse 2's name
# too); without pkg-config, Debian's place.
FUSE_CFLAGS := $(shell pkg-config --cflags fuse3 2>/dev/null || echo -I/usr/include/fuse3)
WARN := -Wall -Wextra -Werror -Wmissing-prototypes -Wstrict-prototypes \
	-Wshadow -Wvla -Wwrite-strings -Wformat=2 -Wpointer-arith -fno-common \
	-Wno-format-nonliteral
ALL_CFLAGS := -std=c11 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -pthread \
	-Isrc -Isrc/lib -It/unit $(FUSE_CFLAGS) $(WARN) $(CFLAGS)
LDLIBS := -pthread -ldeflate -lz -lcrypto -lacl -lm -lreadline -lfuse3
ifneq ($(SANITIZE),)
ALL_CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=$(SANITIZE)
override O := $(O)-san
endif

LIB_SRC := $(filter-out %_test.c,$(wildcard src/lib/*/*.c src/platform/*.c))
CMD_SRC := $(wildcard src/cmd/*.c)
TEST_SRC := $(wildcard src/lib/*/*_test.c)
FUZZ_SRC := $(wildcard t/fuzz/fuzz_*.c)

LIB_OBJ := $(LIB_SRC:%.c=$(O)/%.o)
CMD_OBJ := $(CMD_SRC:%.c=$(O)/%.o)
TEST_OBJ := $(TEST_SRC:%.c=$(O)/%.o)
# the harness and the helpers unit tests share (t/unit/testrepo.h)
UNIT_OBJ := $(patsubst %.c,$(O)/%.o,$(wildcard t/unit/*.c))
MAIN_OBJ := $(O)/src/main.o $(O)/src/cli.o

# Which test scripts `make check` runs (all of them unless told otherwise).
TESTS ?= t/unit.t t/fuzz.t $(wildcard t/t[0-9]*.sh) $(wildcard t/interop/*.sh)

.PHONY: all check unit-test shell-test fuzz-replay demo bench bench-full fuzz \
	clean deps check-symbols check-layers check-honest install cbup fuzz-run

all: cbup

# Keep the fuzz targets' objects (intermediate files of a pattern chain)
# so rebuilds stay incremental.  Only those: a bare ".SECONDARY:" makes
# every target secondary, and make then skips a missing build/cbup when
# the ./cbup link looks up to date (CC=, O= and SANITIZE= built nothing).
# (never empty: that would be the bare form)
ifneq ($(FUZZ_SRC),)
.SECONDARY: $(FUZZ_SRC:%.c=$(O)/%.o)
endif

# Rebuild everything when the compiler or flags change (git's GIT-CFLAGS).
$(O)/FLAGS: FORCE
	@mkdir -p $(O)
	@echo '$(CC) $(ALL_CFLAGS) $(LDFLAGS) $(LDLIBS)' > $@.new
	@cmp -s $@.new $@ && rm -f $@.new || mv $@.new $@
FORCE:

$(O)/%.o: %.c $(O)/FLAGS
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(O)/libcbup.a: $(LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

$(O)/cbup: $(MAIN_OBJ) $(CMD_OBJ) $(O)/libcbup.a
	$(CC) $(LDFLAGS) -o $@ $(MAIN_OBJ) $(CMD_OBJ) $(O)/libcbup.a $(LDLIBS)

# ./cbup is a link to build/cbup, made whatever O is (phony: never
# "up to date" in place of the binary of another build directory).
cbup: $(O)/cbup
	@if [ "$(O)" = build ]; then ln -sf $(O)/cbup cbup; fi

$(O)/unit-tests: $(UNIT_OBJ) $(TEST_OBJ) $(O)/libcbup.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Each fuzz target also links with a replay main() so make check can run
# every corpus file under gcc without libFuzzer.
$(O)/fuzz/%: $(O)/t/fuzz/%.o $(O)/t/fuzz/replay.o $(O)/libcbup.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(O)/test-tool: $(patsubst %.c,$(O)/%.o,$(wildcard t/helper/*.c)) $(O)/libcbup.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

FUZZ_BINS := $(patsubst t/fuzz/%.c,$(O)/fuzz/%,$(FUZZ_SRC))

deps:
	@scripts/install-deps

unit-test: $(O)/unit-tests
	$(O)/unit-tests

fuzz-replay: $(FUZZ_BINS)
	@set -e; for f in $(FUZZ_BINS); do n=$${f##*/fuzz_}; \
		$$f t/fuzz/corpus/$$n; done

# (a missing prerequisite that scripts/install-deps installs is a failure
# here, not a skip: CBUP_TEST_REQUIRE_PREREQS)
#
# Saves record the metadata of every directory above what they save, so
# a test comparing two saves of a path in its trash directory fails when
# another process creates a file beside a parent in between.  The trash
# directories therefore live in a root made before prove starts, with
# one directory per script made then too and TMPDIR inside it: while the
# scripts run, each writes only below its own directory.
check: deps $(O)/cbup $(O)/unit-tests $(O)/test-tool $(FUZZ_BINS)
	@root=$$(mktemp -d "$${TMPDIR:-/tmp}/cbup-check.XXXXXX") && \
	chmod 755 "$$root" && mkdir -m 1777 "$$root/tmp" && \
	for t in $(TESTS); do n=$${t##*/}; mkdir "$$root/$${n%.sh}"; done && \
	echo "CBUP_TRASH_ROOT=$$root" && \
	CBUP_TRASH_ROOT=$$root TMPDIR=$$root/tmp \
		CBUP_BUILD=$(CURDIR)/$(O) CBUP_TEST_REQUIRE_PREREQS=1 \
		prove -j2 --timer $(TESTS); \
	rc=$$?; rm -rf "$$root"; exit $$rc

demo: deps cbup
	CBUP=$(CURDIR)/$(O)/cbup scripts/demo $(DIR)

bench: deps cbup $(O)/test-tool
	CBUP=$(CURDIR)/$(O)/cbup bench/run

bench-full: deps cbup $(O)/test-tool
	BENCH_FULL=1 CBUP=$(CURDIR)/$(O)/cbup bench/run

fuzz:
	$(MAKE) O=build-fuzz CC=clang \
		CFLAGS='-O1 -g -fsanitize=fuzzer-no-link,address,undefined' fuzz-bins
fuzz-bins: $(patsubst t/fuzz/%.c,$(O)/libfuzz/%,$(FUZZ_SRC))
# A campaign: every target for FUZZ_RUNS executions (10 M) or FUZZ_TIME
# seconds; new coverage is merged into t/fuzz/corpus (scripts/fuzz-run).
fuzz-run: fuzz
	scripts/fuzz-run build-fuzz $(FUZZ_TARGETS)
$(O)/libfuzz/%: $(O)/t/fuzz/%.o $(O)/libcbup.a
	@mkdir -p $(dir $@)
	$(CC) -fsanitize=fuzzer,address,undefined -o $@ $^ $(LDLIBS)

# Every global symbol of the core carries its module's prefix.
check-symbols: $(O)/libcbup.a
	@scripts/check-symbols $(O)/libcbup.a

# The library's layers (src/lib/<layer>/): no upward use, no cycle.
check-layers:
	@scripts/check-layers

# make install [PREFIX=/usr/local] [DESTDIR=] [BUP_SYMLINK=1]: cbup in
# $(PREFIX)/bin, a "bup" symlink to it only when asked (it shadows real
# bup), and the man pages of docs/man if there are any.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
MAN_PAGES := $(wildcard docs/man/*.[1-8])
install: $(O)/cbup
	install -d '$(DESTDIR)$(BINDIR)'
	install -m 755 $(O)/cbup '$(DESTDIR)$(BINDIR)/cbup'
	@if [ -n "$(BUP_SYMLINK)" ]; then \
		echo "ln -sf cbup '$(DESTDIR)$(BINDIR)/bup'"; \
		ln -sf cbup '$(DESTDIR)$(BINDIR)/bup'; \
	fi
	@set -e; for m in $(MAN_PAGES); do \
		s=$${m##*.}; \
		install -d "$(DESTDIR)$(MANDIR)/man$$s"; \
		echo "install -m 644 $$m $(DESTDIR)$(MANDIR)/man$$s/"; \
		install -m 644 "$$m" "$(DESTDIR)$(MANDIR)/man$$s/"; \
	done

# The suite against a stand-in cbup that always fails: nothing that runs
# cbup may pass (scripts/check-honest, t/honest-exempt).
check-honest: deps $(O)/test-tool
	scripts/check-honest $(O)

clean:
	rm -rf build build-san build-fuzz cbup

-include $(shell find $(O) -name '*.d' 2>/dev/null)
