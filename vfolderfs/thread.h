/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * thread.h - the daemon's helper threads (catalog watcher, target mounter,
 * closer) start with every signal blocked: SIGTERM, SIGINT and the rest are
 * for the thread running the session loop, which unmounts on them.
 */
#pragma once

#include <pthread.h>
#include <signal.h>

/* pthread_create() with all signals blocked in the new thread; 0 or -errno. */
static inline int thread_start_unsignalled(pthread_t *thread,
                                           void *(*fn)(void *), void *arg)
{
        sigset_t all, old;
        int r;

        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        r = pthread_create(thread, NULL, fn, arg);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        return -r;
}
