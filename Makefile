# zfviz: `make` builds build/zfviz and build/libzfviz.a; `make test`, `make demo`, `make bench`,
# `make asan`, `make install PREFIX=...`. Objects and dependency files (-MMD -MP) go to build/.
# `make demo` and `make test` first install the Debian packages they need (tools/deps.sh).

CC      ?= cc
PREFIX  ?= /usr/local
BUILD   ?= build
OPT     ?= -O2 -march=native
CFLAGS  ?= $(OPT) -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter -Wno-sign-compare -Wno-format-truncation -Wno-missing-field-initializers -pthread -MMD -MP
CPPFLAGS += -I. -Icore $(shell pkg-config --cflags openblas 2>/dev/null)
BLAS_LIBS := $(shell pkg-config --libs openblas 2>/dev/null || echo -lopenblas)
SDL_CFLAGS := $(shell pkg-config --cflags sdl2 2>/dev/null)
SDL_LIBS   := $(shell pkg-config --libs sdl2 2>/dev/null)
LDLIBS  += $(BLAS_LIBS) -lm -pthread
# Quiet by default; `make V=1` shows every command.
Q := $(if $(V),,@)

CORE_SRC := $(wildcard core/*.c core/ops/*.c core/onnx/*.c) $(wildcard models/*.c)
VIZ_SRC  := $(wildcard viz/*.c)
VIEW_SRC := $(wildcard viz/viewer/*.c)
CLI_SRC  := $(wildcard cli/*.c)
TEST_SRC := $(wildcard tests/test_*.c)

CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/%.o)
VIZ_OBJ  := $(VIZ_SRC:%.c=$(BUILD)/%.o)
VIEW_OBJ := $(VIEW_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)

LIB  := $(BUILD)/libzfviz.a
VLIB := $(BUILD)/libzfviz-viz.a
BIN  := $(BUILD)/zfviz

.PHONY: all test demo bench asan install deps check-libs clean
all: check-libs $(BIN) $(LIB)

# A clear message instead of a compiler error when a library is missing.
check-libs:
	@tools/deps.sh --check build

deps:
	@tools/deps.sh build

# The micro-kernels' inner loops start on a 64-byte line: where the linker happened to put them moved
# the direct conv layers by several percent between builds of unrelated changes.
$(BUILD)/core/ops/conv_gemm.o $(BUILD)/core/ops/conv.o $(BUILD)/core/winograd.o: CFLAGS += -falign-loops=64

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/viz/viewer/%.o: viz/viewer/%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CPPFLAGS) $(SDL_CFLAGS) $(CFLAGS) -c $< -o $@

$(LIB): $(CORE_OBJ)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(VLIB): $(VIZ_OBJ) $(VIEW_OBJ)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(BIN): $(CLI_OBJ) $(VLIB) $(LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) -o $@ $(CLI_OBJ) $(VLIB) $(LIB) $(if $(VIEW_OBJ),$(SDL_LIBS)) $(LDLIBS)

$(BUILD)/tests/%: tests/%.c $(VLIB) $(LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(VLIB) $(LIB) $(LDLIBS)

tests: $(TEST_BIN)

$(BUILD)/tools/%: tools/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(LDLIBS)

test: deps-test
	@$(MAKE) --no-print-directory all tests
	tests/run.sh $(BUILD)

deps-test:
	@tools/deps.sh test

demo:
	@tools/deps.sh build
	$(MAKE) all
	tools/demo.sh $(BUILD)

bench: all $(BUILD)/tools/sgemm_peak
	tools/bench.sh $(BUILD)

# -march=native as in the normal build, so the AVX2/FMA kernels (Winograd, the conv GEMM, small-taps)
# are the code the sanitizers watch; a stale build-asan from other flags needs removing first.
asan:
	@tools/deps.sh test
	$(MAKE) BUILD=build-asan OPT="-O1 -march=native -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" \
	    LDLIBS="$(LDLIBS) -fsanitize=address,undefined" all tests
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 ZF_ASAN=1 \
	    ZF_TORCH_FULL_DIR=$(CURDIR)/build/torch-full tests/run.sh build-asan

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include/zfviz
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/zfviz
	install -m 644 $(LIB) $(VLIB) $(DESTDIR)$(PREFIX)/lib/
	# Headers keep the repository's layout under include/zfviz/, with zfviz.h on top.
	for h in core/*.h core/onnx/onnx.h core/ops/*.h models/models.h viz/*.h; do \
	    install -D -m 644 $$h $(DESTDIR)$(PREFIX)/include/zfviz/$$h; done
	install -m 644 core/zfviz.h $(DESTDIR)$(PREFIX)/include/zfviz/zfviz.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@BLAS_LIBS@|$(BLAS_LIBS)|' tools/zfviz.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/zfviz.pc

clean:
	rm -rf $(BUILD) build-asan

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
