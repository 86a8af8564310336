# Native kernels: the kernel-side protocol library (kernels/kside/, libzmq)
# and the kernels built on it (kernels/pari/ on libpari, kernels/gap/ on
# libgap). None of this goes
# into build/libcellgate.a or bin/cellgate: LIB_SRCS takes kernels/*.c only.
#
#   make                 bin/cellgate-pari, bin/cellgate-gap and their
#                        kernelspecs in $(BUILD)/share/jupyter/kernels/{pari,gap}
#                        (argv: absolute path)
#   make test            also runs the kernels' Python tests (test-kernels)
#   make install         the binaries to $(PREFIX)/bin, the kernelspecs to
#                        $(PREFIX)/share/jupyter/kernels

KSIDE_SRCS  := $(wildcard kernels/kside/*.c)
KSIDE_OBJS  := $(KSIDE_SRCS:%.c=$(BUILD)/%.o)
KSIDE_LIB   := $(BUILD)/libkside.a
PARI_SRCS   := $(wildcard kernels/pari/*.c)
PARI_OBJS   := $(PARI_SRCS:%.c=$(BUILD)/%.o)
PARI_BIN    := bin/cellgate-pari
GAP_SRCS    := $(wildcard kernels/gap/*.c)
GAP_OBJS    := $(GAP_SRCS:%.c=$(BUILD)/%.o)
GAP_BIN     := bin/cellgate-gap
KSPEC_ROOT  := $(BUILD)/share/jupyter/kernels
PARI_KSPEC  := $(KSPEC_ROOT)/pari
GAP_KSPEC   := $(KSPEC_ROOT)/gap
PY          := /usr/bin/python3

# PARI's macros (pari_CATCH, BLOCK_SIGINT_*) mix long and int freely.
$(PARI_OBJS): CFLAGS += -Wno-conversion -Wno-shadow -Wno-clobbered

$(KSIDE_LIB): $(KSIDE_OBJS)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(PARI_BIN): $(PARI_OBJS) $(KSIDE_LIB) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(shell pkg-config --libs libzmq) -lpari -lpthread

$(PARI_KSPEC)/kernel.json: kernels/pari/kernel.json.in $(PARI_BIN)
	@mkdir -p $(dir $@)
	sed 's|@BIN@|$(abspath $(PARI_BIN))|' $< > $@

$(PARI_KSPEC)/logo-64x64.png $(PARI_KSPEC)/logo-32x32.png: kernels/pari/make_logo.py kernels/kside/logo_png.py
	@mkdir -p $(dir $@)
	$(PY) $< $(PARI_KSPEC)

PARI_KSPEC_FILES := $(PARI_KSPEC)/kernel.json $(PARI_KSPEC)/logo-64x64.png $(PARI_KSPEC)/logo-32x32.png

$(GAP_BIN): $(GAP_OBJS) $(KSIDE_LIB) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(shell pkg-config --libs libzmq) -lgap -lpthread

$(GAP_KSPEC)/kernel.json: kernels/gap/kernel.json.in $(GAP_BIN)
	@mkdir -p $(dir $@)
	sed 's|@BIN@|$(abspath $(GAP_BIN))|' $< > $@

$(GAP_KSPEC)/logo-64x64.png $(GAP_KSPEC)/logo-32x32.png: kernels/gap/make_logo.py kernels/kside/logo_png.py
	@mkdir -p $(dir $@)
	$(PY) $< $(GAP_KSPEC)

GAP_KSPEC_FILES := $(GAP_KSPEC)/kernel.json $(GAP_KSPEC)/logo-64x64.png $(GAP_KSPEC)/logo-32x32.png

.PHONY: test-kernels install-kernels
test-kernels: $(PARI_BIN) $(PARI_KSPEC_FILES) $(GAP_BIN) $(GAP_KSPEC_FILES)
	@JUPYTER_PATH=$(abspath $(BUILD)/share/jupyter) $(PY) -m pytest -q -p no:cacheprovider tests/kernels

install: install-kernels
install-kernels: $(PARI_BIN) $(PARI_KSPEC_FILES) $(GAP_BIN) $(GAP_KSPEC_FILES)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/jupyter/kernels/pari \
	  $(DESTDIR)$(PREFIX)/share/jupyter/kernels/gap
	install -m 755 $(PARI_BIN) $(DESTDIR)$(PREFIX)/bin/cellgate-pari
	sed 's|@BIN@|$(PREFIX)/bin/cellgate-pari|' kernels/pari/kernel.json.in \
	  > $(DESTDIR)$(PREFIX)/share/jupyter/kernels/pari/kernel.json
	install -m 644 $(PARI_KSPEC)/logo-64x64.png $(PARI_KSPEC)/logo-32x32.png \
	  $(DESTDIR)$(PREFIX)/share/jupyter/kernels/pari/
	install -m 755 $(GAP_BIN) $(DESTDIR)$(PREFIX)/bin/cellgate-gap
	sed 's|@BIN@|$(PREFIX)/bin/cellgate-gap|' kernels/gap/kernel.json.in \
	  > $(DESTDIR)$(PREFIX)/share/jupyter/kernels/gap/kernel.json
	install -m 644 $(GAP_KSPEC)/logo-64x64.png $(GAP_KSPEC)/logo-32x32.png \
	  $(DESTDIR)$(PREFIX)/share/jupyter/kernels/gap/

EXTRA_ALL   += $(PARI_BIN) $(PARI_KSPEC_FILES) $(GAP_BIN) $(GAP_KSPEC_FILES)
EXTRA_TESTS += test-kernels
EXTRA_CLEAN += $(PARI_BIN) $(GAP_BIN)

-include $(KSIDE_OBJS:.o=.d) $(PARI_OBJS:.o=.d) $(GAP_OBJS:.o=.d)
