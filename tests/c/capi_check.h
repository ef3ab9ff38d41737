/*
 * capi_check.h - the little test kit of the capi_*.c programs, which call
 * libmpr.so the way a C program ported from Windows does.
 *
 * Each program runs a list of checks, prints every failed one to stderr
 * (file, line, what was expected) and exits with CHECK_EXIT_FAILED (3) if
 * any failed, 0 otherwise. Exit code 1 is left to valgrind
 * (--error-exitcode=1), so the test that runs a program can tell a failed
 * check from a memory error.
 *
 * Strings: WCHAR literals are written u"..." (see winnetwk.h). The helpers
 * below convert between ASCII/UTF-8 and UTF-16 into caller buffers, so that
 * nothing is allocated and valgrind has nothing to report.
 *
 * Environment (set by the Rust test that runs the program): MPRTEST_DIR,
 * the directory of the scriptable plugins' behaviour files and log, and the
 * MPR_* directories of mpr.
 */
#ifndef CAPI_CHECK_H
#define CAPI_CHECK_H

#define _DEFAULT_SOURCE 1
#define _POSIX_C_SOURCE 200809L

#include "npapi.h"
#include "winnetwk.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The helpers are static inline: a program that uses only some of them gets
 * no unused-function warning. */

#define CHECK_EXIT_FAILED 3

static int g_failures;
static int g_checks;

#define CHECK(cond)                                                            \
    do {                                                                       \
        g_checks++;                                                            \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__,  \
                    #cond);                                                    \
            g_failures++;                                                      \
        }                                                                      \
    } while (0)

#define CHECK_EQ(got, want)                                                    \
    do {                                                                       \
        unsigned long long got_ = (unsigned long long)(got);                   \
        unsigned long long want_ = (unsigned long long)(want);                 \
        g_checks++;                                                            \
        if (got_ != want_) {                                                   \
            fprintf(stderr, "%s:%d: %s is %llu, expected %s = %llu\n",         \
                    __FILE__, __LINE__, #got, got_, #want, want_);             \
            g_failures++;                                                      \
        }                                                                      \
    } while (0)

/* UTF-16 string compared with an ASCII/UTF-8 one (BMP only). */
#define CHECK_WSTR(w, s)                                                       \
    do {                                                                       \
        char got_[1024];                                                       \
        g_checks++;                                                            \
        w_to_utf8((w), got_, sizeof got_);                                     \
        if (strcmp(got_, (s)) != 0) {                                          \
            fprintf(stderr, "%s:%d: %s is \"%s\", expected \"%s\"\n",          \
                    __FILE__, __LINE__, #w, got_, (s));                         \
            g_failures++;                                                      \
        }                                                                      \
    } while (0)

#define CHECK_STR(got, want)                                                   \
    do {                                                                       \
        const char *got_ = (got);                                              \
        g_checks++;                                                            \
        if (got_ == NULL || strcmp(got_, (want)) != 0) {                       \
            fprintf(stderr, "%s:%d: %s is \"%s\", expected \"%s\"\n",          \
                    __FILE__, __LINE__, #got, got_ ? got_ : "(null)", (want));  \
            g_failures++;                                                      \
        }                                                                      \
    } while (0)

static inline int check_finish(const char *program) {
    if (g_failures) {
        fprintf(stderr, "%s: %d of %d checks failed\n", program, g_failures,
                g_checks);
        return CHECK_EXIT_FAILED;
    }
    printf("%s: %d checks passed\n", program, g_checks);
    return 0;
}

/* UTF-8 (no surrogates needed by the tests: code points below U+10000)
 * into a UTF-16 buffer of n units, NUL-terminated. Returns out. */
static inline WCHAR *utf8_to_w(const char *s, WCHAR *out, size_t n) {
    size_t i = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p && i + 1 < n) {
        unsigned c = *p++;
        if (c >= 0xE0 && p[0] && p[1]) {
            c = ((c & 0x0F) << 12) | ((unsigned)(p[0] & 0x3F) << 6) | (p[1] & 0x3F);
            p += 2;
        } else if (c >= 0xC0 && p[0]) {
            c = ((c & 0x1F) << 6) | (p[0] & 0x3F);
            p += 1;
        }
        out[i++] = (WCHAR)c;
    }
    out[i] = 0;
    return out;
}

/* UTF-16 (BMP) into UTF-8, NUL-terminated; NULL prints "(null)". */
static inline char *w_to_utf8(const WCHAR *w, char *out, size_t n) {
    size_t i = 0;
    if (!w) {
        snprintf(out, n, "(null)");
        return out;
    }
    for (; *w && i + 4 < n; w++) {
        unsigned c = *w;
        if (c < 0x80) {
            out[i++] = (char)c;
        } else if (c < 0x800) {
            out[i++] = (char)(0xC0 | (c >> 6));
            out[i++] = (char)(0x80 | (c & 0x3F));
        } else {
            out[i++] = (char)(0xE0 | (c >> 12));
            out[i++] = (char)(0x80 | ((c >> 6) & 0x3F));
            out[i++] = (char)(0x80 | (c & 0x3F));
        }
    }
    out[i] = 0;
    return out;
}

static inline size_t wlen(const WCHAR *w) {
    size_t n = 0;
    while (w[n]) n++;
    return n;
}

/* $MPRTEST_DIR/<name>, or exits: the tests always set it. */
static inline const char *test_path(const char *name, char *out, size_t n) {
    const char *dir = getenv("MPRTEST_DIR");
    if (!dir || !*dir) {
        fprintf(stderr, "MPRTEST_DIR is not set\n");
        exit(2);
    }
    snprintf(out, n, "%s/%s", dir, name);
    return out;
}

/* Writes a behaviour file of the scriptable plugins ("np-acme.conf"). */
static inline void behave(const char *file, const char *text) {
    char path[4096];
    FILE *f = fopen(test_path(file, path, sizeof path), "w");
    if (!f) {
        perror(path);
        exit(2);
    }
    fputs(text, f);
    fclose(f);
}

/* How many lines of the plugins' log contain `needle`. */
static inline int log_count(const char *needle) {
    char path[4096], line[8192];
    int n = 0;
    FILE *f = fopen(test_path("log", path, sizeof path), "r");
    if (!f) return 0;
    while (fgets(line, sizeof line, f)) {
        if (strstr(line, needle)) n++;
    }
    fclose(f);
    return n;
}

/* A NETRESOURCEW for the add functions. */
static inline NETRESOURCEW disk_resource(LPWSTR local, LPWSTR remote, LPWSTR provider) {
    NETRESOURCEW nr;
    memset(&nr, 0, sizeof nr);
    nr.dwType = RESOURCETYPE_DISK;
    nr.lpLocalName = local;
    nr.lpRemoteName = remote;
    nr.lpProvider = provider;
    return nr;
}

#endif /* CAPI_CHECK_H */
