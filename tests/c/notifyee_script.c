/*
 * notifyee_script.c - a connection notifyee whose behaviour a test scripts
 * through a file, and which logs every call it receives.
 *
 * Build (see tests/c/README.md for the whole protocol):
 *     cc -shared -fPIC -std=c11 -Wall -Wextra -Werror -I include \
 *        -DNOTIFYEE_NAME='"alpha"' [-DNO_ADD] [-DNO_CANCEL] \
 *        -o libalpha.so tests/c/notifyee_script.c
 *
 * Runtime: $MPRTEST_DIR/<name>.conf (re-read on every call) says what to
 * return; one line per call is appended to $MPRTEST_DIR/log. Without
 * MPRTEST_DIR the library returns WN_SUCCESS everywhere, keeps a context, and
 * logs nothing.
 */
#define _DEFAULT_SOURCE 1
#define _POSIX_C_SOURCE 200809L

#include "npapi.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>
#include "script_common.h"

#ifndef NOTIFYEE_NAME
#error "define NOTIFYEE_NAME, e.g. -DNOTIFYEE_NAME='\"alpha\"'"
#endif

/* The value a context starts with; "MPRC" read as a big-endian word. */
#define CONTEXT_MAGIC 0x4D505243u
/* What garbage=<phase> stores in lpContext; never dereferenced. */
#define GARBAGE_CONTEXT ((void *)(uintptr_t)0xDEADBEEFu)
/* Longest string (in UTF-16 units) copied into a log line. */
#define MAX_STRING_UNITS 65536

struct context {
    uint32_t magic;
    uint32_t serial;
};

enum phase { ADD_PRE, ADD_POST, CANCEL_PRE, CANCEL_POST, PHASE_COUNT };
enum kind { KIND_ADD, KIND_CANCEL };

static const char *const PHASE_NAMES[PHASE_COUNT] = {"add_pre", "add_post", "cancel_pre",
                                                      "cancel_post"};

struct config {
    DWORD code[PHASE_COUNT];   /* add_pre, add_post, cancel_pre, cancel_post */
    unsigned long retry[2];    /* add_post_retry, cancel_post_retry */
    int context;               /* context=0|1 */
    unsigned crash, abort_, hang, garbage, leak; /* bit (1 << phase) per phase */
};

/* Serialises file I/O and the counters below. */
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
/* Serial of the last context handed out (the first is 1). */
static uint32_t g_serial;
/* WN_RETRY answers given so far, per operation kind. */
static unsigned long g_retries[2];
/* Contexts handed out and not yet freed: only these are ever dereferenced. */
static struct context **g_live;
static size_t g_live_len, g_live_cap;

/* Exported under every build, so that a library built with both NO_ADD and
 * NO_CANCEL still exports something (and says what it is). */
MPR_PLUGIN_EXPORT const char *mprtest_plugin_tag(void);
const char *mprtest_plugin_tag(void) { return "notifyee:" NOTIFYEE_NAME; }

/* ------------------------------------------------------------------------ */
/* Small helpers                                                             */
/* ------------------------------------------------------------------------ */

/* Append one code point as UTF-8; control characters are written as \xHH so
 * that a log line stays one line with tab-separated fields. */
static void buf_codepoint(struct buf *b, uint32_t c) {
    char u[4];
    if (c < 0x20 || c == 0x7F) {
        buf_printf(b, "\\x%02X", (unsigned)c);
    } else if (c < 0x80) {
        u[0] = (char)c;
        buf_add(b, u, 1);
    } else if (c < 0x800) {
        u[0] = (char)(0xC0 | (c >> 6));
        u[1] = (char)(0x80 | (c & 0x3F));
        buf_add(b, u, 2);
    } else if (c < 0x10000) {
        u[0] = (char)(0xE0 | (c >> 12));
        u[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        u[2] = (char)(0x80 | (c & 0x3F));
        buf_add(b, u, 3);
    } else {
        u[0] = (char)(0xF0 | (c >> 18));
        u[1] = (char)(0x80 | ((c >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((c >> 6) & 0x3F));
        u[3] = (char)(0x80 | (c & 0x3F));
        buf_add(b, u, 4);
    }
}

/* Append a NUL-terminated UTF-16 string as UTF-8; "(null)" for NULL. A
 * surrogate without its partner becomes U+FFFD. */
static void buf_wstr(struct buf *b, const WCHAR *s) {
    if (s == NULL) {
        buf_str(b, "(null)");
        return;
    }
    for (size_t i = 0; s[i] != 0; i++) {
        if (i >= MAX_STRING_UNITS) {
            buf_str(b, "...");
            return;
        }
        uint32_t c = s[i];
        if (c >= 0xD800 && c <= 0xDBFF) {
            if (s[i + 1] >= 0xDC00 && s[i + 1] <= 0xDFFF) {
                c = 0x10000 + ((c - 0xD800) << 10) + (uint32_t)(s[i + 1] - 0xDC00);
                i++;
            } else {
                c = 0xFFFD;
            }
        } else if (c >= 0xDC00 && c <= 0xDFFF) {
            c = 0xFFFD;
        }
        buf_codepoint(b, c);
    }
}

/* "add_pre,cancel_post" into phase bits; unknown names are ignored. */
static unsigned parse_phases(char *s) {
    unsigned bits = 0;
    char *save = NULL;
    for (char *tok = strtok_r(s, ", ", &save); tok != NULL; tok = strtok_r(NULL, ", ", &save)) {
        for (int p = 0; p < PHASE_COUNT; p++)
            if (strcmp(tok, PHASE_NAMES[p]) == 0) bits |= 1u << p;
    }
    return bits;
}

/* Read $dir/<name>.conf. A missing file, an unknown key or a bad value
 * leaves the defaults. Call with g_lock held. */
static void read_config(const char *dir, struct config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->context = 1;
    if (dir == NULL) return;

    struct buf path = {0};
    buf_str(&path, dir);
    buf_str(&path, "/" NOTIFYEE_NAME ".conf");
    FILE *f = path.broken ? NULL : fopen(path.p, "re");
    free(path.p);
    if (f == NULL) return;

    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) >= 0) {
        char *hash = strchr(line, '#');
        if (hash != NULL) *hash = '\0';
        char *eq = strchr(line, '=');
        if (eq == NULL) continue;
        *eq = '\0';
        char *key = trim(line), *val = trim(eq + 1);
        unsigned long v;

        int matched = 0;
        for (int p = 0; p < PHASE_COUNT; p++) {
            if (strcmp(key, PHASE_NAMES[p]) == 0) {
                if (parse_ulong(val, 0xFFFFFFFFul, &v) == 0) cfg->code[p] = (DWORD)v;
                matched = 1;
            }
        }
        if (matched) continue;

        if (strcmp(key, "add_post_retry") == 0) {
            if (parse_ulong(val, 0xFFFFFFFFul, &v) == 0) cfg->retry[KIND_ADD] = v;
        } else if (strcmp(key, "cancel_post_retry") == 0) {
            if (parse_ulong(val, 0xFFFFFFFFul, &v) == 0) cfg->retry[KIND_CANCEL] = v;
        } else if (strcmp(key, "context") == 0) {
            if (parse_ulong(val, 1, &v) == 0) cfg->context = (int)v;
        } else if (strcmp(key, "crash") == 0) {
            cfg->crash |= parse_phases(val);
        } else if (strcmp(key, "abort") == 0) {
            cfg->abort_ |= parse_phases(val);
        } else if (strcmp(key, "hang") == 0) {
            cfg->hang |= parse_phases(val);
        } else if (strcmp(key, "garbage") == 0) {
            cfg->garbage |= parse_phases(val);
        } else if (strcmp(key, "leak") == 0) {
            cfg->leak |= parse_phases(val);
        }
    }
    free(line);
    fclose(f);
}

/* Live-context bookkeeping; call with g_lock held. */
static int live_add(struct context *c) {
    if (g_live_len == g_live_cap) {
        size_t cap = g_live_cap ? g_live_cap * 2 : 16;
        struct context **p = realloc(g_live, cap * sizeof *p);
        if (p == NULL) return -1;
        g_live = p;
        g_live_cap = cap;
    }
    g_live[g_live_len++] = c;
    return 0;
}

static int live_remove(const void *c) {
    for (size_t i = 0; i < g_live_len; i++) {
        if (g_live[i] == c) {
            g_live[i] = g_live[--g_live_len];
            return 1;
        }
    }
    return 0;
}

/* At unload (or exit), free the contexts the router never handed back, e.g.
 * those of a PRE that vetoed; the log tells a test about them. */
__attribute__((destructor)) static void release_live_contexts(void) {
    pthread_mutex_lock(&g_lock);
    for (size_t i = 0; i < g_live_len; i++) free(g_live[i]);
    free(g_live);
    g_live = NULL;
    g_live_len = g_live_cap = 0;
    pthread_mutex_unlock(&g_lock);
}

static void leak_a_mebibyte(void) {
    void *p = malloc(1u << 20);
    if (p != NULL) memset(p, 0xA5, 1u << 20);
    /* Make the allocation observable so that it cannot be optimised away. */
    __asm__ volatile("" : : "r"(p) : "memory");
}

static void crash_now(void) {
    /* Both volatile: the store must happen (at -O1 GCC drops a plain store). */
    volatile int *volatile target = NULL;
    *target = 1;
}

/* ------------------------------------------------------------------------ */
/* The common path of both entry points                                      */
/* ------------------------------------------------------------------------ */

/* What the log shows for one call besides the phase-specific parts. */
struct call {
    enum kind kind;
    const NOTIFYADD *add;       /* kind == KIND_ADD */
    const NOTIFYCANCEL *cancel; /* kind == KIND_CANCEL */
};

/* Unused only in a build with both NO_ADD and NO_CANCEL. */
__attribute__((unused)) static DWORD notify(LPNOTIFYINFO info, const struct call *call) {
    if (info == NULL || (call->kind == KIND_ADD ? (const void *)call->add
                                                : (const void *)call->cancel) == NULL)
        return WN_BAD_POINTER;

    const char *dir = test_dir();
    const char *kind_name = call->kind == KIND_ADD ? "add" : "cancel";
    int is_pre = info->dwNotifyStatus == NOTIFY_PRE;
    int is_post = info->dwNotifyStatus == NOTIFY_POST;
    enum phase phase = (enum phase)((call->kind == KIND_ADD ? ADD_PRE : CANCEL_PRE) + (is_post ? 1 : 0));
    unsigned bit = 1u << phase;

    struct config cfg;
    DWORD ret;
    char ctx_text[32];
    const char *action = NULL; /* "crash", "abort" or "hang" */

    pthread_mutex_lock(&g_lock);
    read_config(dir, &cfg);

    if (!is_pre && !is_post) {
        ret = WN_BAD_VALUE;
        strcpy(ctx_text, "0");
    } else if (is_pre) {
        ret = cfg.code[phase];
        if (cfg.garbage & bit) {
            info->lpContext = GARBAGE_CONTEXT;
            strcpy(ctx_text, "0xdeadbeef");
        } else if (cfg.context) {
            struct context *c = malloc(sizeof *c);
            if (c == NULL || live_add(c) != 0) {
                free(c);
                ret = WN_OUT_OF_MEMORY;
                strcpy(ctx_text, "0");
            } else {
                c->magic = CONTEXT_MAGIC;
                c->serial = ++g_serial;
                info->lpContext = c;
                snprintf(ctx_text, sizeof ctx_text, "%lu", (unsigned long)c->serial);
            }
        } else {
            strcpy(ctx_text, "0");
        }
    } else {
        void *ctx = info->lpContext;
        /* Decide the answer first: a notifyee that asks for a retry keeps
         * its context (the router hands it back in the next round's POST). */
        if (info->dwOperationStatus != WN_SUCCESS && g_retries[call->kind] < cfg.retry[call->kind]) {
            g_retries[call->kind]++;
            ret = WN_RETRY;
        } else {
            ret = cfg.code[phase];
        }
        if (ctx == NULL) {
            strcpy(ctx_text, "0");
        } else if (ctx == GARBAGE_CONTEXT) {
            strcpy(ctx_text, "0xdeadbeef");
        } else if (!live_remove(ctx)) {
            /* Not a context of ours (or one already handed back): do not
             * touch it. */
            strcpy(ctx_text, "BAD");
        } else {
            struct context *c = ctx;
            if (c->magic == CONTEXT_MAGIC)
                snprintf(ctx_text, sizeof ctx_text, "%lu", (unsigned long)c->serial);
            else
                strcpy(ctx_text, "BAD");
            if (ret == WN_RETRY && c->magic == CONTEXT_MAGIC && live_add(c) == 0) {
                /* kept for the retry round */
            } else {
                c->magic = 0;
                free(c);
            }
        }
    }

    if (is_pre || is_post) {
        if (cfg.crash & bit)
            action = "crash";
        else if (cfg.abort_ & bit)
            action = "abort";
        else if (cfg.hang & bit)
            action = "hang";
        if (cfg.leak & bit) leak_a_mebibyte();
    }

    if (dir != NULL) {
        struct buf line = {0};
        buf_str(&line, "N\t" NOTIFYEE_NAME "\t");
        buf_str(&line, kind_name);
        if (is_pre)
            buf_str(&line, "\tpre");
        else if (is_post)
            buf_str(&line, "\tpost");
        else
            buf_printf(&line, "\t%lu", (unsigned long)info->dwNotifyStatus);
        buf_printf(&line, "\tstatus=%lu\tctx=%s\tret=", (unsigned long)info->dwOperationStatus,
                   ctx_text);
        if (action != NULL)
            buf_str(&line, action);
        else
            buf_printf(&line, "%lu", (unsigned long)ret);
        if (call->kind == KIND_ADD) {
            const NOTIFYADD *a = call->add;
            buf_str(&line, "\tlocal=");
            buf_wstr(&line, a->NetResource.lpLocalName);
            buf_str(&line, "\tremote=");
            buf_wstr(&line, a->NetResource.lpRemoteName);
            buf_str(&line, "\tname=-\tprovider=");
            buf_wstr(&line, a->NetResource.lpProvider);
            buf_printf(&line, "\ttype=%lu\tflags=%lu\tforce=-\towner=%d",
                       (unsigned long)a->NetResource.dwType, (unsigned long)a->dwAddFlags,
                       a->hwndOwner != NULL ? 1 : 0);
        } else {
            const NOTIFYCANCEL *c = call->cancel;
            buf_str(&line, "\tlocal=-\tremote=-\tname=");
            buf_wstr(&line, c->lpName);
            buf_str(&line, "\tprovider=");
            buf_wstr(&line, c->lpProvider);
            buf_printf(&line, "\ttype=-\tflags=%lu\tforce=%ld\towner=-",
                       (unsigned long)c->dwFlags, (long)c->fForce);
        }
        buf_printf(&line, "\tpid=%ld\n", (long)getpid());
        append_log(dir, &line);
        free(line.p);
    }
    pthread_mutex_unlock(&g_lock);

    if (action != NULL) {
        if (strcmp(action, "crash") == 0) {
            crash_now();
        } else if (strcmp(action, "abort") == 0) {
            abort();
        } else {
            for (;;) {
                struct timespec ts = {3600, 0};
                nanosleep(&ts, NULL);
            }
        }
    }
    return ret;
}

/* ------------------------------------------------------------------------ */
/* Exports                                                                   */
/* ------------------------------------------------------------------------ */

#ifndef NO_ADD
DWORD APIENTRY AddConnectNotify(LPNOTIFYINFO lpNotifyInfo, LPNOTIFYADD lpAddInfo) {
    struct call call = {KIND_ADD, lpAddInfo, NULL};
    return notify(lpNotifyInfo, &call);
}
#endif

#ifndef NO_CANCEL
DWORD APIENTRY CancelConnectNotify(LPNOTIFYINFO lpNotifyInfo, LPNOTIFYCANCEL lpCancelInfo) {
    struct call call = {KIND_CANCEL, NULL, lpCancelInfo};
    return notify(lpNotifyInfo, &call);
}
#endif
