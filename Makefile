# cellgate: the one entry point.
#
#   make            build bin/cellgate (and everything else that is built)
#   make run        install what is missing, build, start the server
#   make test       install what is missing, build, run every test
#   make bench      run the reference workload against cellgate and Jupyter Server
#
# Objects go to $(BUILD); `make test` builds a second tree under build/asan
# with AddressSanitizer and UndefinedBehaviorSanitizer for the unit tests.

BUILD    ?= build
BIN      ?= bin/cellgate
CC       ?= cc
PREFIX   ?= /usr/local
PORT     ?= 8888
PKGS     := jansson libwebsockets libuv openssl sqlite3 libseccomp

OPT      ?= -O2 -g
WARN     := -Wall -Wextra -Wshadow -Wformat=2 -Wconversion -Wno-sign-conversion \
            -Wstrict-prototypes -Wmissing-prototypes -Wvla -Wpointer-arith \
            -Wundef -Wnull-dereference
CPPFLAGS += -D_GNU_SOURCE -MMD -MP
CFLAGS   += -std=gnu11 $(OPT) $(WARN) -fno-strict-aliasing $(shell pkg-config --cflags $(PKGS) 2>/dev/null) $(SAN)
LDLIBS   += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm
LDFLAGS  += $(SAN)

# Library code shared by the server, the native kernels and the tests.
LIB_SRCS    := $(wildcard common/*.c kernels/*.c sandbox/*.c notebook-store/*.c policy/*.c)
SERVER_SRCS := $(wildcard server/*.c)
LIB_OBJS    := $(LIB_SRCS:%.c=$(BUILD)/%.o)
SERVER_OBJS := $(SERVER_SRCS:%.c=$(BUILD)/%.o)
LIB         := $(BUILD)/libcellgate.a
# The server's code but its main(), so unit tests can link it too.
SERVER_LIB  := $(BUILD)/libcellgate-server.a
SERVER_MAIN := $(BUILD)/server/main.o

UNIT_SRCS   := $(wildcard tests/unit/test_*.c)
UNIT_BINS   := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all deps run test unit unit-asan asan-server integration bench clean install
.DEFAULT_GOAL := all

# Module fragments (<folder>/module.mk) add their own programs and tests by
# appending to these, and define the rules for them:
#   EXTRA_ALL    targets `make` builds besides bin/cellgate
#   EXTRA_TESTS  targets `make test` runs after the unit tests
#   EXTRA_CLEAN  paths `make clean` removes
EXTRA_ALL   :=
EXTRA_TESTS :=
EXTRA_CLEAN :=
-include $(wildcard */module.mk)

all: $(BIN) $(EXTRA_ALL)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(SERVER_LIB): $(filter-out $(SERVER_MAIN),$(SERVER_OBJS))
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(BIN): $(SERVER_MAIN) $(SERVER_LIB) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(SERVER_LIB) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(SERVER_LIB) $(LIB) $(LDFLAGS) $(LDLIBS) -lcmocka

deps:
	@bash scripts/install-deps.sh

run: deps
	@$(MAKE) --no-print-directory all
	@bash scripts/run.sh

unit: $(UNIT_BINS)
	@bash scripts/run-unit.sh $(UNIT_BINS)

ASAN_MAKE := $(MAKE) --no-print-directory BUILD=build/asan BIN=build/asan/cellgate OPT="-O1 -g" \
	    SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"

unit-asan:
	@$(ASAN_MAKE) unit

# The server under the sanitizers, for the integration tests' second run.
asan-server:
	@$(ASAN_MAKE) build/asan/cellgate

integration: all
	@bash scripts/run-integration.sh

test: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory unit-asan
	@$(MAKE) --no-print-directory integration $(EXTRA_TESTS)

bench: deps
	@$(MAKE) --no-print-directory all
	@bash scripts/bench.sh

clean:
	rm -rf build bin $(EXTRA_CLEAN)

-include $(LIB_OBJS:.o=.d) $(SERVER_OBJS:.o=.d)
