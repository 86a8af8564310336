# The egress relay: a small program that runs inside each sandbox (not part
# of build/libcellgate.a, which takes sandbox/*.c only).
#
#   make    bin/cellgate-egress-relay, found by the server beside bin/cellgate

RELAY_SRCS := $(wildcard sandbox/relay/*.c)
RELAY_OBJS := $(RELAY_SRCS:%.c=$(BUILD)/%.o)
RELAY_BIN  := bin/cellgate-egress-relay

$(RELAY_BIN): $(RELAY_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^

EXTRA_ALL   += $(RELAY_BIN)
EXTRA_CLEAN += $(RELAY_BIN)

install: install-relay
install-relay: $(RELAY_BIN)
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(RELAY_BIN) $(DESTDIR)$(PREFIX)/bin/cellgate-egress-relay
.PHONY: install-relay
