# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# The benchmark's own binaries, under $(BUILD)/bench/:
#   floor.bpf.c -> floor.bpf.o -> floor.skel.h -> floor   (empty uprobes)
#   tls_server, tls_client                                  (the workload)
#   conn_hold                      (connections held mid-request, mem.sh)
#   insn_cost                      (a uprobe's cost per instruction: Go)
#   go_tls                         (the Go client row, when go is installed)
# Run from the top of the tree: make -f tests/bench/bench.mk BUILD=build
# ($(BUILD)/vmlinux.h comes from the main Makefile, which `make bench` runs
# first; it is built here too when missing).

BUILD     ?= build
OUT       := $(BUILD)/bench
SRC       := tests/bench
CLANG     ?= clang
BPFTOOL   ?= $(shell command -v bpftool 2>/dev/null || echo /usr/sbin/bpftool)
CC        ?= cc
ARCH      := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')

PKGS       := libbpf libelf openssl
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   := $(shell pkg-config --libs $(PKGS))

CFLAGS     ?= -O2 -g
CFLAGS     += -std=gnu11 -Wall -Wextra -Werror -MMD -MP -I$(OUT) $(PKG_CFLAGS)
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Wextra -Werror \
	      -I$(BUILD)

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

.DELETE_ON_ERROR:
.PHONY: all clean

all: $(OUT)/floor $(OUT)/tls_server $(OUT)/tls_client $(OUT)/conn_hold $(OUT)/insn_cost

# The Go client row (crypto/tls): the integration tests' Go program, built
# offline when a Go toolchain is there; run.sh skips the row without it.
GO       ?= $(shell command -v go 2>/dev/null)
GO_SRC   := tests/integration/go_tls
ifneq ($(GO),)
all: $(OUT)/go_tls
endif

$(OUT)/go_tls: $(wildcard $(GO_SRC)/*.go) $(GO_SRC)/go.mod
	$(call msg,GO,$@)
	$(Q)mkdir -p $(@D)
	$(Q)cd $(GO_SRC) && GOCACHE=$(abspath $(OUT))/gocache GOPROXY=off GOFLAGS= CGO_ENABLED=0 \
		GOTOOLCHAIN=local $(GO) build -o $(abspath $@) .

$(BUILD)/vmlinux.h:
	$(call msg,BTF,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@

$(OUT)/floor.bpf.o: $(SRC)/floor.bpf.c $(BUILD)/vmlinux.h
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -MMD -MP -c $< -o $@

$(OUT)/floor.skel.h: $(OUT)/floor.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name floor_bpf > $@

$(OUT)/floor.o: $(OUT)/floor.skel.h

$(OUT)/%.o: $(SRC)/%.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(OUT)/floor: $(OUT)/floor.o
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(PKG_LIBS) -o $@

$(OUT)/tls_server: $(OUT)/tls_server.o
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(PKG_LIBS) -lhttp_parser -lpthread -o $@

$(OUT)/tls_client: $(OUT)/tls_client.o
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(PKG_LIBS) -lhttp_parser -o $@

$(OUT)/conn_hold: $(OUT)/conn_hold.o
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(CFLAGS) $^ -o $@

$(OUT)/insn_cost: $(OUT)/insn_cost.o
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(CFLAGS) $^ -o $@

clean:
	$(call msg,CLEAN,$(OUT))
	$(Q)rm -rf $(OUT)

-include $(wildcard $(OUT)/*.d)
