/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * ELF function lookup for uprobes, as libbpf's src/elf.c does it: .dynsym
 * then .symtab, versioned names ("SSL_write@@OPENSSL_3.0.0") match their
 * base name, file offset = st_value - sh_addr + sh_offset. Own code
 * because attach-point selection also needs the bytes of the functions.
 */
#ifndef SP_ELF_SYM_H
#define SP_ELF_SYM_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

struct sp_elf;

/* NULL with errno set if path is not a readable ELF file. */
struct sp_elf *sp_elf__open(const char *path);
void sp_elf__close(struct sp_elf *e);
/* File offset of the defined function name: 0, or -ENOENT. */
int sp_elf__func(struct sp_elf *e, const char *name, uint64_t *off);
/*
 * Calls fn(name, off, arg) for every defined function symbol of .symtab
 * (then .dynsym), with its file offset, until fn returns non-zero (that
 * value is returned; 0 when all were seen). For libraries whose names
 * must be matched by rule, not looked up (Rust's mangled names).
 */
int sp_elf__each_func(struct sp_elf *e, int (*fn)(const char *name, uint64_t off, void *arg),
		      void *arg);
/* Looks for the bytes needle in the section named sect (".rodata") for
 * which ok(at, left) (at: the match, left: bytes from it to the end) is
 * true: 1 found, 0 not (or no such section). Reads at most max_bytes. */
int sp_elf__section_has(struct sp_elf *e, const char *sect, const void *needle, size_t n,
			uint64_t max_bytes, bool (*ok)(const char *at, size_t left));
/* The ELF e_machine (EM_X86_64, EM_AARCH64, ...), 0 if unreadable: an
 * attach-point choice that reads code must know which code it reads. */
int sp_elf__machine(struct sp_elf *e);
/* A section by name (the first one): its address, file offset and size. */
struct sp_elf_sec {
	uint64_t addr, off, size;
	uint32_t type;		/* SHT_PROGBITS, SHT_NOBITS, ... */
};
/* 0, or -ENOENT if there is no such section. */
int sp_elf__section(struct sp_elf *e, const char *name, struct sp_elf_sec *sec);
/* The ELF e_type (ET_EXEC, ET_DYN), 0 if unreadable. */
int sp_elf__type(struct sp_elf *e);
/* The open file's descriptor (borrowed: closed by sp_elf__close), for
 * callers that map the sections they read. */
int sp_elf__fd(struct sp_elf *e);
/* The file offset of virtual address vaddr, through the PT_LOAD program
 * headers, with at least n bytes of the segment's file image after it:
 * 0, or -ENOENT. */
int sp_elf__vaddr_off(struct sp_elf *e, uint64_t vaddr, uint64_t n, uint64_t *off);
/* Reads n bytes at file offset off: 0 or -errno. */
int sp_elf__read(struct sp_elf *e, uint64_t off, void *buf, size_t n);
/*
 * x86-64: where to probe a function whose first bytes (8 at least) are
 * code, at file offset off: past an endbr64 when a push follows (the
 * return address is still at the stack top there), else at off.
 * *emulated: the probed instruction is a push, which the kernel emulates
 * in uprobes (since 6.11) instead of single-stepping it.
 */
uint64_t sp_x86_probe_off(const uint8_t *code, uint64_t off, bool *emulated);

#endif
