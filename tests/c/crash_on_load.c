/*
 * crash_on_load.c - a notifyee library whose constructor crashes, so that
 * merely loading it kills the process that loads it. Used to check that
 * `isolation = "process"` libraries are only ever loaded in a host.
 */
#include "npapi.h"

#include <stddef.h>

/* A real invalid access (a raised SIGSEGV would be ignored by Rust's
 * stack-overflow handler); volatile, so the compiler keeps the store. */
__attribute__((constructor)) static void crash_now(void) {
    volatile int *volatile nowhere = NULL;
    *nowhere = 1;
}

DWORD APIENTRY AddConnectNotify(LPNOTIFYINFO info, LPNOTIFYADD add) {
    (void)info;
    (void)add;
    return WN_SUCCESS;
}
