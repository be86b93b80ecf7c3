# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# BPF tests (real eBPF, root), under $(BUILD)/tests/bpf/:
#   test_tls_probe   spanprobe's OpenSSL programs on noinline functions of
#                    the test binary itself, through the real attach code
#   sweep_bench      what one kernel-table sweep costs with the tables full
# Run from the top of the tree after `make` (the skeleton comes from the
# main Makefile): make -f tests/bpf/bpf.mk BUILD=build run
# SPANPROBE_REQUIRE_BPF=1 makes "BPF cannot load here" a failure.

BUILD     ?= build
OUT       := $(BUILD)/tests/bpf
CC        ?= cc

PKGS       := libbpf libelf
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   := $(shell pkg-config --libs $(PKGS))

CFLAGS     ?= -O2 -g
ALL_CFLAGS := $(CFLAGS) -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter \
	      -Wno-missing-field-initializers -MMD -MP -D_GNU_SOURCE \
	      -Iinclude -Iuserspace -I. -I$(BUILD) $(PKG_CFLAGS)

# the part of spanprobe these tests drive, built here on its own
CORE := userspace/kernel/loader.c userspace/discovery/tls_attach.c \
	userspace/discovery/tls_openssl.c userspace/discovery/elf_sym.c \
	userspace/util/log.c
CORE_OBJS := $(patsubst %.c,$(OUT)/obj/%.o,$(CORE))

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

.DELETE_ON_ERROR:
.SECONDARY:
.PHONY: all run clean

all: $(OUT)/test_tls_probe $(OUT)/sweep_bench

run: $(OUT)/test_tls_probe
	$(Q)$(OUT)/test_tls_probe

$(BUILD)/spanprobe.skel.h:
	@echo "bpf.mk: $@ is missing: run make BUILD=$(BUILD) first" >&2; exit 1

$(OUT)/obj/%.o: %.c $(BUILD)/spanprobe.skel.h
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(OUT)/%: tests/bpf/%.c $(CORE_OBJS) $(BUILD)/spanprobe.skel.h
	$(call msg,TEST,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) $< $(CORE_OBJS) $(PKG_LIBS) -lpthread -o $@

clean:
	$(call msg,CLEAN,$(OUT))
	$(Q)rm -rf $(OUT)

-include $(shell find $(OUT) -name '*.d' 2>/dev/null)
