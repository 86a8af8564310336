# policy/: its sources go into build/libcellgate.a (LIB_SRCS). This adds a
# libFuzzer target for the token parser, built with clang outside the
# normal build (not part of `make` or `make test`):
#
#   make fuzz-policy                 build/fuzz/fuzz_token, then run it for
#                                    FUZZ_SECONDS (60) on tests/fuzz/corpus/token

FUZZ_SECONDS ?= 60
FUZZ_CC      ?= clang
FUZZ_POLICY  := build/fuzz/fuzz_token
FUZZ_POLICY_SRCS := tests/fuzz/fuzz_token.c policy/token.c policy/caveat.c policy/policy.c \
		    policy/principals.c policy/rootkey.c common/err.c common/util.c

.PHONY: fuzz-policy

$(FUZZ_POLICY): $(FUZZ_POLICY_SRCS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -o $@ $^ \
		$(shell pkg-config --cflags --libs jansson openssl)

fuzz-policy: $(FUZZ_POLICY)
	@mkdir -p build/fuzz/corpus-token
	$(FUZZ_POLICY) -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -artifact_prefix=build/fuzz/ \
		build/fuzz/corpus-token \
		tests/fuzz/corpus/token
