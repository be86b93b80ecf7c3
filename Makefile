# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Data flows kernel probes (bpf/) -> ring buffer -> capture -> decode ->
# pairing -> semantics -> trace assembly (userspace/, one folder per stage;
# ARCHITECTURE.md) -> exporters (exporters/). Everything is built under
# build/. `make V=1` shows the commands.

VERSION   := 0.1.0
BUILD     := build
CLANG     ?= clang
BPFTOOL   ?= $(shell command -v bpftool 2>/dev/null || echo /usr/sbin/bpftool)
CC        ?= cc
ARCH      := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')

PKGS      := libbpf libelf yajl zlib libprotobuf-c libcurl libbrotlidec libzstd capstone libnghttp2
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS  := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

# CFLAGS/LDFLAGS are the user's (and the asan target's); the rest is ours
CFLAGS    ?= -O2 -g
ALL_CFLAGS := $(CFLAGS) -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter \
	     -Wno-missing-field-initializers -MMD -MP \
	     -Iinclude -Iuserspace -I. -I$(BUILD) -I$(BUILD)/gen $(PKG_CFLAGS) \
	     -D_GNU_SOURCE -DSPANPROBE_VERSION='"$(VERSION)"'
LDLIBS    += $(PKG_LIBS) -lhttp_parser -lpthread -lm

BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Werror \
	      -Iinclude -I$(BUILD)

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

.DELETE_ON_ERROR:
.PHONY: all deps test-deps run test unit bpftest integration asan bench clean

all: $(BUILD)/spanprobe

# ---- BPF: *.bpf.c -> *.bpf.o -> linked object -> skeleton ----
BPF_SRCS := $(wildcard bpf/*.bpf.c)
# maps.bpf.o (the map definitions) is linked first: bpftool 7.1's linker
# (libbpf 1.1) fails a map relocation when an object that defines maps of
# its own (func.bpf.o: libbpf's USDT maps) comes before it
BPF_OBJS := $(BUILD)/bpf/maps.bpf.o $(filter-out $(BUILD)/bpf/maps.bpf.o,\
	$(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.bpf.o,$(BPF_SRCS)))

$(BUILD)/vmlinux.h:
	$(call msg,BTF,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c $(BUILD)/vmlinux.h
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -MMD -MP -c $< -o $@

# libbpf's usdt.bpf.h includes <linux/errno.h>, whose <asm/errno.h> is in
# the multiarch directory that -target bpf does not search (the idiom of
# libbpf-bootstrap's CLANG_BPF_SYS_INCLUDES)
BPF_SYS_INCLUDES ?= $(shell $(CLANG) -v -E - </dev/null 2>&1 | \
	sed -n '/<...> search starts here:/,/End of search list./{ s| \(/.*\)|-idirafter \1|p }')
$(BUILD)/bpf/func.bpf.o: BPF_CFLAGS += $(BPF_SYS_INCLUDES)

$(BUILD)/spanprobe.bpf.o: $(BPF_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(BPFTOOL) gen object $@ $^

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $*_bpf > $@

# ---- OTLP protobuf: exporters/proto/*.proto -> build/gen/*.pb-c.[ch] ----
PROTO_DIR  := exporters/proto
PROTOS     := $(shell find $(PROTO_DIR) -name '*.proto' | sort)
PROTO_SRCS := $(patsubst $(PROTO_DIR)/%.proto,$(BUILD)/gen/%.pb-c.c,$(PROTOS))
PROTO_OBJS := $(patsubst %.c,%.o,$(PROTO_SRCS))

# one protoc-c run makes all of them (a grouped target)
$(PROTO_SRCS) $(PROTO_SRCS:.c=.h) &: $(PROTOS)
	$(call msg,PROTOC,$(BUILD)/gen)
	$(Q)mkdir -p $(BUILD)/gen
	$(Q)protoc-c --c_out=$(BUILD)/gen -I$(PROTO_DIR) $(patsubst $(PROTO_DIR)/%,%,$(PROTOS))

$(BUILD)/gen/%.pb-c.o: $(BUILD)/gen/%.pb-c.c
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -Wno-unused-parameter -c $< -o $@

# ---- text files as C strings: the built-in LLM price table, the HTML page ----
# "?" as "\?": JavaScript's "??" must not make C trigraphs
C_STRING = sed 's/\\/\\\\/g; s/"/\\"/g; s/?/\\?/g; s/^/"/; s/$$/\\n"/'

$(BUILD)/gen/prices_json.h: userspace/semantics/prices.json
	$(call msg,GEN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)(echo 'static const char prices_json[] ='; $(C_STRING) $<; echo ';') > $@

$(BUILD)/obj/userspace/semantics/prices.o: $(BUILD)/gen/prices_json.h

# the HTML report's page (userspace/report/html.c): waterfall_html, _css, _js
REPORT_ASSETS := $(addprefix userspace/report/waterfall.,html css js)

$(BUILD)/gen/report_assets.h: $(REPORT_ASSETS)
	$(call msg,GEN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)for f in $^; do \
	     echo "static const char $$(basename $$f | tr . _)[] ="; \
	     $(C_STRING) $$f; echo ';'; \
	done > $@

$(BUILD)/obj/userspace/report/html.o: $(BUILD)/gen/report_assets.h

# ---- userspace ----
# The core (everything but the CLI) is shared with the tests; a new file
# in a stage's folder is built without a line here.
CLI_SRCS  := $(wildcard userspace/cli/*.c)
CORE_SRCS := $(wildcard userspace/*.c) \
	     $(filter-out $(CLI_SRCS),$(wildcard userspace/*/*.c)) \
	     $(wildcard exporters/*.c)
CLI_OBJS  := $(patsubst %.c,$(BUILD)/obj/%.o,$(CLI_SRCS))
CORE_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(CORE_SRCS)) $(PROTO_OBJS)

# exporters include the generated headers
$(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard exporters/*.c)): $(PROTO_SRCS)

$(BUILD)/obj/%.o: %.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

# userspace objects that include the skeleton must wait for it
$(CLI_OBJS) $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard userspace/kernel/*.c) \
	$(wildcard userspace/discovery/*.c)): $(BUILD)/spanprobe.skel.h

$(BUILD)/spanprobe: $(CLI_OBJS) $(CORE_OBJS)
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) $^ $(LDLIBS) -o $@

# ---- tests ----
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))
UNIT_LIBS := $(LDLIBS) $(shell pkg-config --libs cmocka libbrotlienc 2>/dev/null)

$(BUILD)/tests/%: tests/unit/%.c $(CORE_OBJS) $(BUILD)/spanprobe.skel.h
	$(call msg,TEST,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -Itests/unit $< $(CORE_OBJS) $(UNIT_LIBS) -o $@

# The function-probe tests' target: -O2 -g whatever CFLAGS say, as a
# user's binary would be; probe_target_twin.c twice, for two static
# functions of one name. test_func reads its symbols.
PROBE_TARGET := $(BUILD)/tests/probe_target
PROBE_SRCS := tests/integration/probe_target.c tests/integration/probe_target_twin.c

$(PROBE_TARGET): $(PROBE_SRCS)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) -O2 -g -c tests/integration/probe_target_twin.c -o $@.twin-a.o
	$(Q)$(CC) -O2 -g -DTWIN_SIDE=b -DTWIN_ADD=20 -c tests/integration/probe_target_twin.c \
		-o $@.twin-b.o
	$(Q)$(CC) -O2 -g tests/integration/probe_target.c $@.twin-a.o $@.twin-b.o -o $@

$(BUILD)/tests/test_func: $(PROBE_TARGET)

# html_cases.py's page maker: data JSON in, sp_report_html's page out
HTML_PAGE := $(BUILD)/tests/html_page

$(HTML_PAGE): tests/integration/html_page.c $(BUILD)/obj/userspace/report/html.o
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) $^ -o $@

# the same unit tests under ASan/UBSan, in a tree of their own
ASAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
	      -fno-sanitize-recover=all

deps:
	$(Q)tests/install-deps.sh

test-deps:
	$(Q)tests/install-deps.sh --tests

unit: $(UNIT_BINS)
	$(Q)tests/run-unit.sh $(UNIT_BINS)

asan:
	$(Q)$(MAKE) --no-print-directory BUILD=$(BUILD)/asan CFLAGS="$(ASAN_FLAGS)" \
		$(patsubst $(BUILD)/%,$(BUILD)/asan/%,$(UNIT_BINS))
	$(Q)ASAN_OPTIONS=detect_leaks=1 tests/run-unit.sh \
		$(patsubst $(BUILD)/%,$(BUILD)/asan/%,$(UNIT_BINS))

# kernel-selftest style: real BPF on the test binary's own functions (root);
# tests/bpf/sweep_bench (what a kernel-table sweep costs) is built beside it
BPFT_BINS := $(patsubst tests/bpf/%.c,$(BUILD)/tests/bpf/%,$(wildcard tests/bpf/*.c))

$(BUILD)/tests/bpf/%: tests/bpf/%.c $(CORE_OBJS) $(BUILD)/spanprobe.skel.h
	$(call msg,TEST,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) $< $(CORE_OBJS) $(LDLIBS) -o $@

bpftest: $(BPFT_BINS)
	$(Q)$(BUILD)/tests/bpf/test_tls_probe

integration: $(BUILD)/spanprobe $(PROBE_TARGET) $(HTML_PAGE)
	$(Q)python3 tests/integration/run.py

# README command 2: installs what is missing, builds, runs every test
test: test-deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(MAKE) --no-print-directory bpftest
	$(Q)$(MAKE) --no-print-directory unit
	$(Q)$(MAKE) --no-print-directory asan
	$(Q)$(MAKE) --no-print-directory integration

# README command 1: installs what is missing, builds, traces the whole host
run: deps
	$(Q)$(MAKE) --no-print-directory all
	$(BUILD)/spanprobe $(ARGS)

bench: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(MAKE) --no-print-directory -f tests/bench/bench.mk BUILD=$(BUILD)
	$(Q)tests/bench/run.sh

clean:
	$(call msg,CLEAN,$(BUILD))
	$(Q)rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
