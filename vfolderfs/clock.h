/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * clock.h - the daemon's one reading of the monotonic clock, for deadlines
 * and spin budgets (loop.c, live.c).
 */
#pragma once

#include <stdint.h>
#include <time.h>

/* CLOCK_MONOTONIC in microseconds. */
static inline int64_t monotonic_us(void)
{
        struct timespec t;

        clock_gettime(CLOCK_MONOTONIC, &t);
        return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}
