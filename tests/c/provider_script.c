/*
 * provider_script.c - a network provider whose behaviour a test scripts
 * through a file. It "connects" by writing a line to a state file, and logs
 * every connection call it receives (never a password, only its length).
 *
 * Build (see tests/c/README.md for the whole protocol):
 *     cc -shared -fPIC -std=c11 -Wall -Wextra -Werror -I include \
 *        -DPROVIDER_TAG='"acme"' [-DNO_GETCAPS] \
 *        -o libacme.so tests/c/provider_script.c
 *
 * Runtime: $MPRTEST_DIR/np-<tag>.conf (re-read on every call) says what to
 * do; connections live in $MPRTEST_DIR/np-<tag>.state; one line per call is
 * appended to $MPRTEST_DIR/log. Without MPRTEST_DIR the defaults apply, the
 * connections are kept in memory and nothing is logged.
 *
 * WNetSetLastErrorW comes from the process that loads the library (mpr). It
 * is referenced weakly, so that the library still loads (RTLD_NOW) into a
 * process that does not export it; ext_error then only returns
 * WN_EXTENDED_ERROR.
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
#include <sys/file.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>
#include "script_common.h"

#ifndef PROVIDER_TAG
#error "define PROVIDER_TAG, e.g. -DPROVIDER_TAG='\"acme\"'"
#endif

#pragma weak WNetSetLastErrorW

/* Longest string (in UTF-16 units) this provider reads. */
#define MAX_STRING_UNITS 65536

/* What NPGetCaps reports for the other indices. */
#define SCRIPT_SPEC_VERSION 0x00050001u
#define SCRIPT_NET_TYPE 0x00FF0000u
#define SCRIPT_DEFAULT_CAPS                                                    \
    (WNNC_CON_ADDCONNECTION | WNNC_CON_CANCELCONNECTION | WNNC_CON_GETCONNECTIONS | \
     WNNC_CON_ADDCONNECTION3)

struct config {
    char *owns;          /* comma-separated servers; NULL = the tag */
    DWORD caps;          /* caps_connection */
    int no_network;      /* no_network=1 */
    DWORD add_result;    /* add_result */
    DWORD cancel_result; /* cancel_result */
    int has_ext_error;
    DWORD ext_error;     /* ext_error */
    int open_files;      /* open_files=1 */
    unsigned long delay_ms;
};

struct entry {
    char *local;  /* "" for a deviceless connection */
    char *remote;
};

struct state {
    struct entry *v;
    size_t len, cap;
};

/* Serialises file I/O within the process (flock serialises processes). */
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
/* The connections, when there is no MPRTEST_DIR to keep them in. */
static struct state g_memory;

MPR_PLUGIN_EXPORT const char *mprtest_plugin_tag(void);
const char *mprtest_plugin_tag(void) { return "provider:" PROVIDER_TAG; }

/* ------------------------------------------------------------------------ */
/* Small helpers                                                             */
/* ------------------------------------------------------------------------ */

/* Append a UTF-8 string for a log line: control characters become \xHH so
 * that the line stays one line with tab-separated fields; NULL is "(null)". */
static void buf_logstr(struct buf *b, const char *s) {
    if (s == NULL) {
        buf_str(b, "(null)");
        return;
    }
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7F)
            buf_printf(b, "\\x%02X", (unsigned)c);
        else
            buf_add(b, s, 1);
    }
}

/* UTF-16 (NUL-terminated) to a new UTF-8 string; a surrogate without its
 * partner becomes U+FFFD. NULL in, NULL out; NULL also when out of memory
 * (*oom is then set). */
static char *utf16_to_utf8(const WCHAR *s, int *oom) {
    if (s == NULL) return NULL;
    struct buf b = {0};
    buf_add(&b, "", 0); /* an empty string is still a string */
    for (size_t i = 0; s[i] != 0 && i < MAX_STRING_UNITS; i++) {
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
        char u[4];
        size_t n;
        if (c < 0x80) {
            u[0] = (char)c;
            n = 1;
        } else if (c < 0x800) {
            u[0] = (char)(0xC0 | (c >> 6));
            u[1] = (char)(0x80 | (c & 0x3F));
            n = 2;
        } else if (c < 0x10000) {
            u[0] = (char)(0xE0 | (c >> 12));
            u[1] = (char)(0x80 | ((c >> 6) & 0x3F));
            u[2] = (char)(0x80 | (c & 0x3F));
            n = 3;
        } else {
            u[0] = (char)(0xF0 | (c >> 18));
            u[1] = (char)(0x80 | ((c >> 12) & 0x3F));
            u[2] = (char)(0x80 | ((c >> 6) & 0x3F));
            u[3] = (char)(0x80 | (c & 0x3F));
            n = 4;
        }
        buf_add(&b, u, n);
    }
    if (b.broken) {
        free(b.p);
        *oom = 1;
        return NULL;
    }
    return b.p;
}

/* UTF-8 to UTF-16 code units, into out[0..cap) if out is non-NULL; returns
 * the number of units (without a terminator). Invalid bytes become U+FFFD. */
static size_t utf8_to_utf16(const char *s, WCHAR *out, size_t cap) {
    const unsigned char *p = (const unsigned char *)s;
    size_t n = 0;
    while (*p) {
        uint32_t c;
        size_t len;
        if (p[0] < 0x80) {
            c = p[0];
            len = 1;
        } else if ((p[0] & 0xE0) == 0xC0 && (p[1] & 0xC0) == 0x80) {
            c = ((uint32_t)(p[0] & 0x1F) << 6) | (p[1] & 0x3F);
            len = 2;
        } else if ((p[0] & 0xF0) == 0xE0 && (p[1] & 0xC0) == 0x80 && (p[2] & 0xC0) == 0x80) {
            c = ((uint32_t)(p[0] & 0x0F) << 12) | ((uint32_t)(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
            len = 3;
        } else if ((p[0] & 0xF8) == 0xF0 && (p[1] & 0xC0) == 0x80 && (p[2] & 0xC0) == 0x80 &&
                   (p[3] & 0xC0) == 0x80) {
            c = ((uint32_t)(p[0] & 0x07) << 18) | ((uint32_t)(p[1] & 0x3F) << 12) |
                ((uint32_t)(p[2] & 0x3F) << 6) | (p[3] & 0x3F);
            len = 4;
        } else {
            c = 0xFFFD;
            len = 1;
        }
        if (c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) c = 0xFFFD;
        p += len;
        if (c >= 0x10000) {
            c -= 0x10000;
            if (out != NULL && n + 1 < cap) {
                out[n] = (WCHAR)(0xD800 + (c >> 10));
                out[n + 1] = (WCHAR)(0xDC00 + (c & 0x3FF));
            }
            n += 2;
        } else {
            if (out != NULL && n < cap) out[n] = (WCHAR)c;
            n += 1;
        }
    }
    return n;
}

static size_t wcslen16(const WCHAR *s) {
    size_t n = 0;
    while (s[n] != 0 && n < MAX_STRING_UNITS) n++;
    return n;
}

static int ascii_ieq(const char *a, size_t alen, const char *b, size_t blen) {
    if (alen != blen) return 0;
    for (size_t i = 0; i < alen; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (x >= 'A' && x <= 'Z') x = (unsigned char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = (unsigned char)(y - 'A' + 'a');
        if (x != y) return 0;
    }
    return 1;
}

static int ascii_ieq_str(const char *a, const char *b) {
    return ascii_ieq(a, strlen(a), b, strlen(b));
}

static char *path_in(const char *dir, const char *suffix) {
    struct buf b = {0};
    buf_str(&b, dir);
    buf_str(&b, "/np-" PROVIDER_TAG);
    buf_str(&b, suffix);
    if (b.broken) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

/* Read $dir/np-<tag>.conf; a missing file, an unknown key or a bad value
 * leaves the defaults. Free with free_config. */
static void read_config(const char *dir, struct config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->caps = SCRIPT_DEFAULT_CAPS;
    if (dir == NULL) return;

    char *path = path_in(dir, ".conf");
    pthread_mutex_lock(&g_lock);
    FILE *f = path != NULL ? fopen(path, "re") : NULL;
    free(path);
    if (f == NULL) {
        pthread_mutex_unlock(&g_lock);
        return;
    }
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
        if (strcmp(key, "owns") == 0) {
            char *copy = strdup(val);
            if (copy != NULL) {
                free(cfg->owns);
                cfg->owns = copy;
            }
        } else if (strcmp(key, "caps_connection") == 0) {
            if (parse_ulong(val, 0xFFFFFFFFul, &v) == 0) cfg->caps = (DWORD)v;
        } else if (strcmp(key, "no_network") == 0) {
            if (parse_ulong(val, 1, &v) == 0) cfg->no_network = (int)v;
        } else if (strcmp(key, "add_result") == 0) {
            if (parse_ulong(val, 0xFFFFFFFFul, &v) == 0) cfg->add_result = (DWORD)v;
        } else if (strcmp(key, "cancel_result") == 0) {
            if (parse_ulong(val, 0xFFFFFFFFul, &v) == 0) cfg->cancel_result = (DWORD)v;
        } else if (strcmp(key, "ext_error") == 0) {
            if (parse_ulong(val, 0xFFFFFFFFul, &v) == 0) {
                cfg->ext_error = (DWORD)v;
                cfg->has_ext_error = 1;
            }
        } else if (strcmp(key, "open_files") == 0) {
            if (parse_ulong(val, 1, &v) == 0) cfg->open_files = (int)v;
        } else if (strcmp(key, "delay_ms") == 0) {
            if (parse_ulong(val, 86400000ul, &v) == 0) cfg->delay_ms = v;
        }
    }
    free(line);
    fclose(f);
    pthread_mutex_unlock(&g_lock);
}

static void free_config(struct config *cfg) {
    free(cfg->owns);
    cfg->owns = NULL;
}

/* Is remote a UNC name (\\server\... or //server/...) whose server, before
 * any "@port", is in the owns list? */
static int owns_remote(const struct config *cfg, const char *remote) {
    if (remote == NULL) return 0;
    if (!((remote[0] == '\\' || remote[0] == '/') && (remote[1] == '\\' || remote[1] == '/')))
        return 0;
    const char *server = remote + 2;
    size_t n = strcspn(server, "\\/");
    const char *at = memchr(server, '@', n);
    if (at != NULL) n = (size_t)(at - server);
    if (n == 0) return 0;

    const char *list = cfg->owns != NULL ? cfg->owns : PROVIDER_TAG;
    while (*list) {
        size_t len = strcspn(list, ",");
        const char *tok = list;
        size_t toklen = len;
        while (toklen > 0 && (*tok == ' ' || *tok == '\t')) {
            tok++;
            toklen--;
        }
        while (toklen > 0 && (tok[toklen - 1] == ' ' || tok[toklen - 1] == '\t')) toklen--;
        if (toklen > 0 && ascii_ieq(tok, toklen, server, n)) return 1;
        list += len;
        if (*list == ',') list++;
    }
    return 0;
}

static int is_unc(const char *name) {
    return name != NULL && (name[0] == '\\' || name[0] == '/') &&
           (name[1] == '\\' || name[1] == '/');
}

/* ------------------------------------------------------------------------ */
/* The state file                                                            */
/* ------------------------------------------------------------------------ */

static void state_clear(struct state *st) {
    for (size_t i = 0; i < st->len; i++) {
        free(st->v[i].local);
        free(st->v[i].remote);
    }
    free(st->v);
    st->v = NULL;
    st->len = st->cap = 0;
}

static int state_push(struct state *st, const char *local, const char *remote) {
    if (st->len == st->cap) {
        size_t cap = st->cap ? st->cap * 2 : 8;
        struct entry *v = realloc(st->v, cap * sizeof *v);
        if (v == NULL) return -1;
        st->v = v;
        st->cap = cap;
    }
    char *l = strdup(local), *r = strdup(remote);
    if (l == NULL || r == NULL) {
        free(l);
        free(r);
        return -1;
    }
    st->v[st->len].local = l;
    st->v[st->len].remote = r;
    st->len++;
    return 0;
}

static void state_remove(struct state *st, size_t i) {
    free(st->v[i].local);
    free(st->v[i].remote);
    memmove(&st->v[i], &st->v[i + 1], (st->len - i - 1) * sizeof *st->v);
    st->len--;
}

static int state_copy(struct state *to, const struct state *from) {
    for (size_t i = 0; i < from->len; i++)
        if (state_push(to, from->v[i].local, from->v[i].remote) != 0) return -1;
    return 0;
}

/* A locked view of the connections: the state file under flock on the lock
 * file, or the in-memory list. The process mutex is held throughout. */
struct session {
    const char *dir;
    int lock_fd;
    struct state st;
};

static int session_open(struct session *s, const char *dir) {
    memset(s, 0, sizeof *s);
    s->dir = dir;
    s->lock_fd = -1;
    pthread_mutex_lock(&g_lock);
    if (dir == NULL) {
        if (state_copy(&s->st, &g_memory) != 0) goto fail;
        return 0;
    }
    char *lock_path = path_in(dir, ".lock");
    if (lock_path == NULL) goto fail;
    s->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    free(lock_path);
    if (s->lock_fd < 0) goto fail;
    while (flock(s->lock_fd, LOCK_EX) != 0)
        if (errno != EINTR) goto fail;

    char *state_path = path_in(dir, ".state");
    if (state_path == NULL) goto fail;
    FILE *f = fopen(state_path, "re");
    free(state_path);
    if (f == NULL) {
        if (errno == ENOENT) return 0;
        goto fail;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int bad = 0;
    while ((n = getline(&line, &cap, f)) >= 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
        char *tab = strchr(line, '\t');
        if (tab == NULL) continue;
        *tab = '\0';
        if (state_push(&s->st, line, tab + 1) != 0) bad = 1;
    }
    free(line);
    fclose(f);
    if (bad) goto fail;
    return 0;
fail:
    state_clear(&s->st);
    if (s->lock_fd >= 0) close(s->lock_fd);
    s->lock_fd = -1;
    pthread_mutex_unlock(&g_lock);
    return -1;
}

/* Write the state back (temporary file + rename); 0 on success. */
static int session_save(struct session *s) {
    if (s->dir == NULL) {
        struct state copy = {0};
        if (state_copy(&copy, &s->st) != 0) {
            state_clear(&copy);
            return -1;
        }
        state_clear(&g_memory);
        g_memory = copy;
        return 0;
    }
    char *final_path = path_in(s->dir, ".state");
    struct buf tmp = {0};
    if (final_path != NULL) {
        buf_str(&tmp, final_path);
        buf_printf(&tmp, ".tmp.%ld", (long)getpid());
    }
    int ok = final_path != NULL && !tmp.broken;
    FILE *f = ok ? fopen(tmp.p, "we") : NULL;
    ok = f != NULL;
    for (size_t i = 0; ok && i < s->st.len; i++)
        ok = fprintf(f, "%s\t%s\n", s->st.v[i].local, s->st.v[i].remote) >= 0;
    if (f != NULL) {
        ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
        ok = (fclose(f) == 0) && ok;
    }
    if (ok)
        ok = rename(tmp.p, final_path) == 0;
    else if (f != NULL)
        unlink(tmp.p);
    free(tmp.p);
    free(final_path);
    return ok ? 0 : -1;
}

/* At unload (or exit), drop the in-memory connections. */
__attribute__((destructor)) static void release_memory_state(void) {
    pthread_mutex_lock(&g_lock);
    state_clear(&g_memory);
    pthread_mutex_unlock(&g_lock);
}

static void session_close(struct session *s) {
    state_clear(&s->st);
    if (s->lock_fd >= 0) close(s->lock_fd); /* releases the flock */
    s->lock_fd = -1;
    pthread_mutex_unlock(&g_lock);
}

/* Index of the entry whose (non-empty) local name is name, or -1. */
static long find_local(const struct state *st, const char *name) {
    if (name == NULL || name[0] == '\0') return -1;
    for (size_t i = 0; i < st->len; i++)
        if (st->v[i].local[0] != '\0' && ascii_ieq_str(st->v[i].local, name)) return (long)i;
    return -1;
}

static int has_line_breaks(const char *s) {
    return s != NULL && strpbrk(s, "\t\r\n") != NULL;
}

/* ------------------------------------------------------------------------ */
/* Logging                                                                   */
/* ------------------------------------------------------------------------ */

struct logline {
    const char *op;     /* add, add3, cancel, get */
    const char *local;  /* UTF-8, NULL prints (null) */
    int local_dash;     /* print - instead of local */
    const char *remote;
    int remote_dash;
    const char *user;
    int user_dash;
    const WCHAR *password; /* only its length is logged */
    int password_dash;
    int has_flags;
    DWORD flags;
    int has_force;
    BOOL force;
    DWORD ret;
};

static void write_log(const char *dir, const struct logline *l) {
    if (dir == NULL) return;
    struct buf b = {0};
    buf_str(&b, "P\t" PROVIDER_TAG "\t");
    buf_str(&b, l->op);
    buf_str(&b, "\tlocal=");
    if (l->local_dash)
        buf_str(&b, "-");
    else
        buf_logstr(&b, l->local);
    buf_str(&b, "\tremote=");
    if (l->remote_dash)
        buf_str(&b, "-");
    else
        buf_logstr(&b, l->remote);
    buf_str(&b, "\tuser=");
    if (l->user_dash)
        buf_str(&b, "-");
    else
        buf_logstr(&b, l->user);
    buf_str(&b, "\tpwlen=");
    if (l->password_dash)
        buf_str(&b, "-");
    else if (l->password == NULL)
        buf_str(&b, "(null)");
    else
        buf_printf(&b, "%zu", wcslen16(l->password));
    if (l->has_flags)
        buf_printf(&b, "\tflags=%lu", (unsigned long)l->flags);
    else
        buf_str(&b, "\tflags=-");
    if (l->has_force)
        buf_printf(&b, "\tforce=%ld", (long)l->force);
    else
        buf_str(&b, "\tforce=-");
    buf_printf(&b, "\tret=%lu\tpid=%ld\n", (unsigned long)l->ret, (long)getpid());
    pthread_mutex_lock(&g_lock);
    append_log(dir, &b);
    pthread_mutex_unlock(&g_lock);
    free(b.p);
}

/* ------------------------------------------------------------------------ */
/* Operations                                                                */
/* ------------------------------------------------------------------------ */

static void set_extended_error(DWORD code) {
    if (!WNetSetLastErrorW) return;
    char text[96];
    snprintf(text, sizeof text, "%s: extended detail %lu", PROVIDER_TAG, (unsigned long)code);
    WCHAR wtext[96], wname[64];
    size_t n = utf8_to_utf16(text, wtext, sizeof wtext / sizeof *wtext - 1);
    wtext[n < 95 ? n : 95] = 0;
    n = utf8_to_utf16(PROVIDER_TAG, wname, sizeof wname / sizeof *wname - 1);
    wname[n < 63 ? n : 63] = 0;
    WNetSetLastErrorW(code, wtext, wname);
}

static DWORD add_connection(const char *op, LPNETRESOURCEW nr, LPWSTR password, LPWSTR user,
                            int has_flags, DWORD flags) {
    const char *dir = test_dir();
    struct config cfg;
    read_config(dir, &cfg);
    if (cfg.delay_ms > 0) {
        struct timespec ts = {(time_t)(cfg.delay_ms / 1000), (long)(cfg.delay_ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        }
    }

    int oom = 0;
    char *local = nr != NULL ? utf16_to_utf8(nr->lpLocalName, &oom) : NULL;
    char *remote = nr != NULL ? utf16_to_utf8(nr->lpRemoteName, &oom) : NULL;
    char *user8 = utf16_to_utf8(user, &oom);
    DWORD ret;

    if (oom) {
        ret = WN_OUT_OF_MEMORY;
    } else if (nr == NULL) {
        ret = WN_BAD_POINTER;
    } else if (cfg.no_network) {
        ret = WN_NO_NETWORK;
    } else if (!owns_remote(&cfg, remote)) {
        ret = WN_BAD_NETNAME;
    } else if (cfg.has_ext_error) {
        set_extended_error(cfg.ext_error);
        ret = WN_EXTENDED_ERROR;
    } else if (cfg.add_result != 0) {
        ret = cfg.add_result;
    } else if (has_line_breaks(local) || has_line_breaks(remote)) {
        ret = WN_BAD_NETNAME; /* cannot be written to the state file */
    } else {
        struct session s;
        if (session_open(&s, dir) != 0) {
            ret = WN_WINDOWS_ERROR;
        } else {
            const char *l = local != NULL ? local : "";
            if (find_local(&s.st, l) >= 0)
                ret = WN_ALREADY_CONNECTED;
            else if (state_push(&s.st, l, remote) != 0)
                ret = WN_OUT_OF_MEMORY;
            else
                ret = session_save(&s) == 0 ? WN_SUCCESS : WN_WINDOWS_ERROR;
            session_close(&s);
        }
    }

    struct logline line = {0};
    line.op = op;
    line.local = local;
    line.remote = remote;
    line.user = user8;
    line.password = password;
    line.has_flags = has_flags;
    line.flags = flags;
    line.ret = ret;
    write_log(dir, &line);

    free(local);
    free(remote);
    free(user8);
    free_config(&cfg);
    return ret;
}

/* ------------------------------------------------------------------------ */
/* Exports                                                                   */
/* ------------------------------------------------------------------------ */

#ifndef NO_GETCAPS
DWORD APIENTRY NPGetCaps(DWORD nIndex) {
    switch (nIndex) {
    case WNNC_SPEC_VERSION:
        return SCRIPT_SPEC_VERSION;
    case WNNC_NET_TYPE:
        return SCRIPT_NET_TYPE;
    case WNNC_CONNECTION: {
        struct config cfg;
        read_config(test_dir(), &cfg);
        DWORD caps = cfg.caps;
        free_config(&cfg);
        return caps;
    }
    default:
        return 0;
    }
}
#endif

DWORD APIENTRY NPAddConnection(LPNETRESOURCEW lpNetResource, LPWSTR lpPassword,
                               LPWSTR lpUserName) {
    return add_connection("add", lpNetResource, lpPassword, lpUserName, 0, 0);
}

DWORD APIENTRY NPAddConnection3(HWND hwndOwner, LPNETRESOURCEW lpNetResource, LPWSTR lpPassword,
                                LPWSTR lpUserName, DWORD dwFlags) {
    (void)hwndOwner;
    return add_connection("add3", lpNetResource, lpPassword, lpUserName, 1, dwFlags);
}

DWORD APIENTRY NPCancelConnection(LPWSTR lpName, BOOL fForce) {
    const char *dir = test_dir();
    struct config cfg;
    read_config(dir, &cfg);
    int oom = 0;
    char *name = utf16_to_utf8(lpName, &oom);
    DWORD ret;

    if (oom) {
        ret = WN_OUT_OF_MEMORY;
    } else if (lpName == NULL) {
        ret = WN_BAD_POINTER;
    } else if (cfg.no_network) {
        ret = WN_NO_NETWORK;
    } else if (is_unc(name) && !owns_remote(&cfg, name)) {
        ret = WN_NOT_CONNECTED;
    } else {
        struct session s;
        if (session_open(&s, dir) != 0) {
            ret = WN_WINDOWS_ERROR;
        } else {
            long by_local = find_local(&s.st, name);
            size_t matches = 0;
            if (by_local >= 0) {
                matches = 1;
            } else if (name[0] != '\0') {
                for (size_t i = 0; i < s.st.len; i++)
                    if (ascii_ieq_str(s.st.v[i].remote, name)) matches++;
            }
            if (matches == 0) {
                ret = WN_NOT_CONNECTED;
            } else if (cfg.cancel_result != 0) {
                ret = cfg.cancel_result;
            } else if (cfg.open_files && !fForce) {
                ret = WN_OPEN_FILES;
            } else {
                if (by_local >= 0) {
                    state_remove(&s.st, (size_t)by_local);
                } else {
                    for (size_t i = s.st.len; i-- > 0;)
                        if (ascii_ieq_str(s.st.v[i].remote, name)) state_remove(&s.st, i);
                }
                ret = session_save(&s) == 0 ? WN_SUCCESS : WN_WINDOWS_ERROR;
            }
            session_close(&s);
        }
    }

    struct logline line = {0};
    line.op = "cancel";
    line.local = name;
    line.remote_dash = 1;
    line.user_dash = 1;
    line.password_dash = 1;
    line.has_force = 1;
    line.force = fForce;
    line.ret = ret;
    write_log(dir, &line);

    free(name);
    free_config(&cfg);
    return ret;
}

DWORD APIENTRY NPGetConnection(LPWSTR lpLocalName, LPWSTR lpRemoteName, LPDWORD lpnBufferLen) {
    const char *dir = test_dir();
    struct config cfg;
    read_config(dir, &cfg);
    int oom = 0;
    char *local = utf16_to_utf8(lpLocalName, &oom);
    char *found = NULL;
    DWORD ret;

    if (oom) {
        ret = WN_OUT_OF_MEMORY;
    } else if (lpLocalName == NULL || lpnBufferLen == NULL) {
        ret = WN_BAD_POINTER;
    } else if (cfg.no_network) {
        ret = WN_NO_NETWORK;
    } else {
        struct session s;
        if (session_open(&s, dir) != 0) {
            ret = WN_WINDOWS_ERROR;
        } else {
            long i = find_local(&s.st, local);
            if (i < 0) {
                ret = WN_NOT_CONNECTED;
            } else {
                found = strdup(s.st.v[i].remote);
                size_t needed = utf8_to_utf16(s.st.v[i].remote, NULL, 0) + 1;
                if (found == NULL) {
                    ret = WN_OUT_OF_MEMORY;
                } else if (*lpnBufferLen < needed) {
                    *lpnBufferLen = (DWORD)needed;
                    ret = WN_MORE_DATA;
                } else if (lpRemoteName == NULL) {
                    ret = WN_BAD_POINTER;
                } else {
                    utf8_to_utf16(s.st.v[i].remote, lpRemoteName, needed - 1);
                    lpRemoteName[needed - 1] = 0;
                    ret = WN_SUCCESS;
                }
            }
            session_close(&s);
        }
    }

    struct logline line = {0};
    line.op = "get";
    line.local = local;
    line.remote = found;
    line.remote_dash = found == NULL;
    line.user_dash = 1;
    line.password_dash = 1;
    line.ret = ret;
    write_log(dir, &line);

    free(local);
    free(found);
    free_config(&cfg);
    return ret;
}
