/*
 * audit.c - a sample connection notifyee for mpr: one line per event.
 *
 * It writes to the file named by $MPR_AUDIT_FILE, or to syslog (facility
 * AUTHPRIV) when that is unset. It keeps a context from PRE to POST, so each
 * POST line also says how long the operation took.
 *
 * Build: cc -shared -fPIC -std=c11 -Wall -Wextra -Werror -I include \
 *           -o libmpr_audit.so samples/notifyees/audit.c
 * Register: [notifyees] audit = "/usr/lib/mpr/notifyees/libmpr_audit.so"
 */
#define _POSIX_C_SOURCE 200809L
#include "npapi.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

struct started {
    struct timespec at;
};

/* UTF-16 to UTF-8 for ASCII-and-more; anything outside the BMP's common
 * range is written as '?', which is enough for an audit line. */
static void narrow(const WCHAR *w, char *out, size_t cap) {
    size_t n = 0;
    if (w == NULL) {
        snprintf(out, cap, "-");
        return;
    }
    for (; *w != 0 && n + 4 < cap; w++) {
        WCHAR c = *w;
        if (c < 0x80) {
            out[n++] = (char)c;
        } else if (c < 0x800) {
            out[n++] = (char)(0xC0 | (c >> 6));
            out[n++] = (char)(0x80 | (c & 0x3F));
        } else if (c < 0xD800 || c > 0xDFFF) {
            out[n++] = (char)(0xE0 | (c >> 12));
            out[n++] = (char)(0x80 | ((c >> 6) & 0x3F));
            out[n++] = (char)(0x80 | (c & 0x3F));
        } else {
            out[n++] = '?';
        }
    }
    out[n] = 0;
}

static void emit(const char *line) {
    const char *file = getenv("MPR_AUDIT_FILE");
    if (file != NULL && *file != 0) {
        int fd = open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (fd >= 0) {
            size_t len = strlen(line);
            ssize_t w = write(fd, line, len);
            (void)w;
            close(fd);
        }
        return;
    }
    syslog(LOG_AUTHPRIV | LOG_INFO, "%s", line);
}

static void record(LPNOTIFYINFO info, const char *op, const WCHAR *local, const WCHAR *remote, const WCHAR *provider) {
    char l[512], r[1024], p[256], line[2048];
    narrow(local, l, sizeof l);
    narrow(remote, r, sizeof r);
    narrow(provider, p, sizeof p);
    if (info->dwNotifyStatus == NOTIFY_PRE) {
        struct started *s = malloc(sizeof *s);
        if (s != NULL) {
            clock_gettime(CLOCK_MONOTONIC, &s->at);
            info->lpContext = s;
        }
        snprintf(line, sizeof line, "mpr-audit: %s pre local=%s remote=%s uid=%u\n", op, l, r, (unsigned)getuid());
    } else {
        double ms = -1;
        struct started *s = info->lpContext;
        if (s != NULL) {
            struct timespec now;
            clock_gettime(CLOCK_MONOTONIC, &now);
            ms = (double)(now.tv_sec - s->at.tv_sec) * 1e3 + (double)(now.tv_nsec - s->at.tv_nsec) / 1e6;
            free(s);
        }
        snprintf(line, sizeof line, "mpr-audit: %s post local=%s remote=%s provider=%s status=%u took=%.1fms\n", op, l,
                 r, p, (unsigned)info->dwOperationStatus, ms);
    }
    emit(line);
}

DWORD APIENTRY AddConnectNotify(LPNOTIFYINFO info, LPNOTIFYADD add) {
    if (info == NULL || add == NULL) return WN_BAD_POINTER;
    record(info, "add", add->NetResource.lpLocalName, add->NetResource.lpRemoteName, add->NetResource.lpProvider);
    return WN_SUCCESS;
}

DWORD APIENTRY CancelConnectNotify(LPNOTIFYINFO info, LPNOTIFYCANCEL cancel) {
    if (info == NULL || cancel == NULL) return WN_BAD_POINTER;
    record(info, "cancel", cancel->lpName, NULL, cancel->lpProvider);
    return WN_SUCCESS;
}
