// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The rest of probe_target: built twice (the second time with
 * -DTWIN_SIDE=b -DTWIN_ADD=20), so that the binary has two static
 * functions named "twin" at different addresses. */
#define PROBED __attribute__((noinline, noipa, used))

#ifndef TWIN_SIDE
#define TWIN_SIDE a
#define TWIN_ADD 10
#endif

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)

static PROBED int twin(int x)
{
	__asm__ volatile("" : "+r"(x));
	return x + TWIN_ADD;
}

int CAT(twin_, TWIN_SIDE)(int x)
{
	return twin(x);
}
