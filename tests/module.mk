# Fuzz targets (tests/fuzz/fuzz_*.c): libFuzzer with clang, under ASan and
# UBSan, linked against just the sources each one names.
#
#   make fuzz              each target for FUZZ_SECONDS (default 60) from its
#                          seed corpus (tests/fuzz/corpus/<name>/)
#   make fuzz-smoke        each target on its seeds and FUZZ_RUNS (20000) more
#                          inputs: quick, run by make test

FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_RUNS    ?= 20000
FUZZ_FLAGS   := -std=gnu11 -g -O1 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
                -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_DIR     := $(BUILD)/fuzz

FUZZ_LOGIN_SRCS := server/login_next.c server/form.c server/origin.c server/cookie.c \
                   common/util.c common/buf.c common/err.c

$(FUZZ_DIR)/fuzz_login: tests/fuzz/fuzz_login.c $(FUZZ_LOGIN_SRCS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $^ $(shell pkg-config --libs openssl)

FUZZ_BINS := $(FUZZ_DIR)/fuzz_login

.PHONY: fuzz fuzz-smoke
fuzz: $(FUZZ_BINS)
	@for f in $(FUZZ_BINS); do n=$$(basename $$f); n=$${n#fuzz_}; \
	  mkdir -p $(FUZZ_DIR)/corpus-$$n; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -max_len=4096 $(FUZZ_DIR)/corpus-$$n tests/fuzz/corpus/$$n || exit 1; \
	done

fuzz-smoke: $(FUZZ_BINS)
	@for f in $(FUZZ_BINS); do n=$$(basename $$f); n=$${n#fuzz_}; \
	  log=$(FUZZ_DIR)/$$n-smoke.log; \
	  $$f -runs=$(FUZZ_RUNS) -max_len=4096 tests/fuzz/corpus/$$n > $$log 2>&1 \
	    || { tail -40 $$log; echo "fuzz-smoke: $$n FAILED" >&2; exit 1; }; \
	  echo "fuzz-smoke: $$n: $$(tail -1 $$log)"; \
	done

EXTRA_TESTS += fuzz-smoke
