/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz.h - what the libFuzzer targets in tests/fuzz share: a NUL-terminated
 * copy of the input and CHECK(), which aborts with the failed invariant (so
 * libFuzzer reports it as a crash and saves the input).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond, ...)                                                  \
        do {                                                              \
                if (!(cond)) {                                            \
                        fprintf(stderr, "invariant failed at %s:%d: %s: ", \
                                __FILE__, __LINE__, #cond);               \
                        fprintf(stderr, __VA_ARGS__);                     \
                        fputc('\n', stderr);                              \
                        abort();                                          \
                }                                                         \
        } while (0)

/* The input up to its first NUL (or all of it), NUL-terminated; malloc'd. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
        char *s = malloc(size + 1);

        if (!s)
                abort();
        memcpy(s, data, size);
        s[size] = 0;
        return s;
}

/* An error message from the library: present, one line, not empty. */
static inline void fuzz_check_reterr(int r, char *err, const char *in)
{
        CHECK(r < 0, "r=%d", r);
        CHECK(err != NULL, "no message for input '%s'", in);
        CHECK(err[0] != 0, "empty message for '%s'", in);
        CHECK(strchr(err, '\n') == NULL, "message with a newline: '%s'", err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
