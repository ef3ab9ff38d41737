/*
 * script_common.h - helpers shared by the scriptable test plugins
 * (notifyee_script.c, provider_script.c): the test directory, a growable
 * line buffer, and appending one line to the shared log with one write().
 * Static functions: each plugin gets its own copy.
 */
#ifndef MPR_SCRIPT_COMMON_H
#define MPR_SCRIPT_COMMON_H

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *test_dir(void) {
    const char *dir = getenv("MPRTEST_DIR");
#ifdef MPRTEST_DIR_DEFAULT
    if (dir == NULL || dir[0] == '\0') dir = MPRTEST_DIR_DEFAULT;
#endif
    return (dir != NULL && dir[0] != '\0') ? dir : NULL;
}

/* A growable byte buffer; on allocation failure it goes "broken" and the
 * caller drops the line rather than writing half of it. */
struct buf {
    char *p;
    size_t len, cap;
    int broken;
};

static void buf_reserve(struct buf *b, size_t extra) {
    if (b->broken || b->len + extra + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) cap *= 2;
    char *p = realloc(b->p, cap);
    if (p == NULL) {
        b->broken = 1;
        return;
    }
    b->p = p;
    b->cap = cap;
}

static void buf_add(struct buf *b, const char *s, size_t n) {
    buf_reserve(b, n);
    if (b->broken) return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void buf_str(struct buf *b, const char *s) { buf_add(b, s, strlen(s)); }

static void buf_printf(struct buf *b, const char *fmt, ...) {
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->broken = 1;
        return;
    }
    buf_add(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* Append the line to $dir/log with a single write() on an O_APPEND file, so
 * that lines from concurrent processes never interleave. */
static void append_log(const char *dir, struct buf *line) {
    if (line->broken) return;
    struct buf path = {0};
    buf_str(&path, dir);
    buf_str(&path, "/log");
    if (!path.broken) {
        int fd = open(path.p, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd >= 0) {
            ssize_t n;
            do {
                n = write(fd, line->p, line->len);
            } while (n < 0 && errno == EINTR);
            close(fd);
        }
    }
    free(path.p);
}

static char *trim(char *s) {
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

/* "123" or "0x7B" into *out, at most `max`; 0 on success. */
static int parse_ulong(const char *s, unsigned long max, unsigned long *out) {
    int base = 10;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    if (*s == '\0' || *s == '-' || *s == '+') return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, base);
    if (errno != 0 || *end != '\0' || v > max) return -1;
    *out = (unsigned long)v;
    return 0;
}

#endif
