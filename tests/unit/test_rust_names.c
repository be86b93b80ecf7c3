// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Rust symbol names for rustls discovery (discovery/rust_names.c), on
 * names taken from tests/integration/rust_client built against Debian's
 * rustls 0.20.8 (rustc 1.63 and 1.95). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "discovery/rust_names.h"

static void demangles(const char *sym, const char *want)
{
	char out[512];

	assert_int_equal(sp_rust_demangle(sym, out, sizeof(out)), (int)strlen(want));
	assert_string_equal(out, want);
}

static void test_demangle(void **state)
{
	demangles("_ZN54_$LT$rustls..conn..Reader$u20$as$u20$std..io..Read$GT$4read17h6308c7c8c4dc589bE",
		  "<rustls::conn::Reader as std::io::Read>::read");
	demangles("_ZN55_$LT$rustls..conn..Writer$u20$as$u20$std..io..Write$GT$5write17h933db708f4975cbfE",
		  "<rustls::conn::Writer as std::io::Write>::write");
	demangles("_ZN6rustls4conn11CommonState19send_some_plaintext17h1f32a65c64644adeE",
		  "rustls::conn::CommonState::send_some_plaintext");
	demangles("_ZN6rustls4conn11CommonState9write_tls17h707058bfce221488E",
		  "rustls::conn::CommonState::write_tls");
	demangles("_ZN82_$LT$std..io..buffered..bufreader..BufReader$LT$R$GT$$u20$as$u20$std..io..Read$GT$4read17ha47b3f686a55be59E",
		  "<std::io::buffered::bufreader::BufReader<R> as std::io::Read>::read");
	demangles("_ZN4core3ptr108drop_in_place$LT$rustls..conn..ConnectionCommon$LT$rustls..client..client_conn..ClientConnectionData$GT$$GT$17ha1357332f548481cE",
		  "core::ptr::drop_in_place<rustls::conn::ConnectionCommon<rustls::client::client_conn::ClientConnectionData>>");
}

/* -C symbol-mangling-version=v0 (rustc 1.63), the same test client */
static void test_demangle_v0(void **state)
{
	demangles("_RNvMsa_NtCsf1uEo7TpsJf_6rustls4connNtB5_11CommonState19send_some_plaintext",
		  "rustls::conn::CommonState::send_some_plaintext");
	demangles("_RNvMsa_NtCsf1uEo7TpsJf_6rustls4connNtB5_11CommonState9write_tls",
		  "rustls::conn::CommonState::write_tls");
	demangles("_RNvMsa_NtCsf1uEo7TpsJf_6rustls4connNtB5_11CommonState23take_received_plaintext",
		  "rustls::conn::CommonState::take_received_plaintext");
	demangles("_RNvXs2_NtCsf1uEo7TpsJf_6rustls4connNtB5_6ReaderNtNtCsdyIG5SqMl5y_3std2io4Read4read",
		  "<rustls::conn::Reader as std::io::Read>::read");
	/* a generic self type (BufReader<File>): not decoded, so never matched */
	{
		char out[512];

		assert_int_equal(sp_rust_demangle("_RNvXs1_NtNtNtCsdyIG5SqMl5y_3std2io8buffered9bufreaderINtB5_9BufReaderNtNtBb_2fs4FileENtB9_4Read4readCs3cPXKDZjyZ5_16sp_rustls_client",
						  out, sizeof(out)), -1);
	}
}

static void test_not_legacy_rust(void **state)
{
	char out[512];

	/* C++: no hash */
	assert_int_equal(sp_rust_demangle("_ZN3foo3barEv", out, sizeof(out)), -1);
	assert_int_equal(sp_rust_demangle("_ZN3foo3barE", out, sizeof(out)), -1);
	/* LLVM's local clone: its calling convention may differ */
	assert_int_equal(sp_rust_demangle("_ZN4core3ptr104drop_in_place$LT$alloc..collections..vec_deque..VecDeque$LT$rustls..msgs..message..OpaqueMessage$GT$$GT$17h9998e1680644c77dE.llvm.14355190380748465998",
					  out, sizeof(out)), -1);
	/* v0: generic code is not decoded, nor a clone, nor a backref that
	 * points forward */
	assert_int_equal(sp_rust_demangle("_RINvNtCs6IL9ONYDOZW_4core3ptr13drop_in_placeNtNtCsf1uEo7TpsJf_6rustls4conn11CommonStateECs3cPXKDZjyZ5_16sp_rustls_client",
					  out, sizeof(out)), -1);
	assert_int_equal(sp_rust_demangle("_RNvMsa_NtCsf1uEo7TpsJf_6rustls4connNtB5_11CommonState9write_tls.llvm.123",
					  out, sizeof(out)), -1);
	assert_int_equal(sp_rust_demangle("_RNvMsa_NtCsf1uEo7TpsJf_6rustls4connNtBz_11CommonState9write_tls",
					  out, sizeof(out)), -1);
	assert_int_equal(sp_rust_demangle("_RNvMsa_NtCsf1uEo7TpsJf_6rustls4connNtB5_11CommonState90write_tls",
					  out, sizeof(out)), -1);
	/* a length past the end, an unknown escape, a C name */
	assert_int_equal(sp_rust_demangle("_ZN60rustls17h1f32a65c64644adeE", out, sizeof(out)), -1);
	assert_int_equal(sp_rust_demangle("_ZN8$XY$abcd17h1f32a65c64644adeE", out, sizeof(out)), -1);
	assert_int_equal(sp_rust_demangle("SSL_write", out, sizeof(out)), -1);
	/* too small a buffer */
	assert_int_equal(sp_rust_demangle("_ZN6rustls4conn11CommonState9write_tls17h707058bfce221488E",
					  out, 10), -1);
}

static void test_rustls_funcs(void **state)
{
	assert_int_equal(sp_rustls_func("rustls::conn::CommonState::send_some_plaintext"),
			 SP_RUSTLS_SEND);
	assert_int_equal(sp_rustls_func("rustls::common_state::CommonState::write_tls"),
			 SP_RUSTLS_TIE);
	assert_int_equal(sp_rustls_func("rustls::conn::CommonState::take_received_plaintext"),
			 SP_RUSTLS_NOTE);
	assert_int_equal(sp_rustls_func("rustls::conn::CommonState::decrypt_incoming"),
			 SP_RUSTLS_NOTE_ALT);
	assert_int_equal(sp_rustls_func("<rustls::conn::Reader as std::io::Read>::read"),
			 SP_RUSTLS_READ);
	/* near misses: other Readers, the Writer (not probed), a prefix */
	assert_int_equal(sp_rustls_func("<std::io::buffered::bufreader::BufReader<R> as std::io::Read>::read"), -1);
	assert_int_equal(sp_rustls_func("<rustls::conn::Writer as std::io::Write>::write"), -1);
	assert_int_equal(sp_rustls_func("rustls::msgs::codec::Reader::sub"), -1);
	assert_int_equal(sp_rustls_func("rustls::conn::CommonState::write_tls_x"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_demangle),
		cmocka_unit_test(test_demangle_v0),
		cmocka_unit_test(test_not_legacy_rust),
		cmocka_unit_test(test_rustls_funcs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
