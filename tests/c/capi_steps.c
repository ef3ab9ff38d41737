/*
 * capi_steps.c - runs WNet calls named on the command line, one after the
 * other in one process, and prints one line per call. The Rust tests use
 * it to compare what notifyees and providers see through libmpr.so with
 * what they see through the mpr command, and to mix C and `mpr` calls.
 *
 *     capi_steps STEP... where STEP is one of
 *       use LOCAL REMOTE FLAGS PROVIDER  WNetUseConnectionW (DISK)
 *       add REMOTE LOCAL                 WNetAddConnectionW
 *       add2 LOCAL REMOTE FLAGS PROVIDER WNetAddConnection2W (DISK)
 *       add3 LOCAL REMOTE FLAGS          WNetAddConnection3W, owner non-NULL
 *       cancel NAME FORCE                WNetCancelConnectionW
 *       cancel2 NAME FLAGS FORCE         WNetCancelConnection2W
 *       get LOCAL                        WNetGetConnectionW
 *       enum SCOPE                       WNetOpenEnumW + WNetEnumResourceW
 *       restore DEVICE                   WNetRestoreSingleConnectionW
 *       lasterror                        WNetGetLastErrorW
 *
 * A name "-" is NULL. Numbers are decimal or 0x hexadecimal. Output lines
 * are tab-separated: the step, `rc=<code>`, then the step's values
 * (`access=`, `result=`, `remote=`, one `entry` line per enumerated
 * resource, `code=`/`text=`/`provider=` for lasterror); a newline or tab
 * inside a value is written \n or \t. The exit status is
 * 0 when every step ran (whatever the codes), 2 for a usage error.
 */
#include "capi_check.h"

#define NAME_UNITS 4096

static WCHAR g_w[4][NAME_UNITS];

/* argv string as UTF-16 in slot i; "-" is NULL. */
static LPWSTR warg(const char *s, int i) {
    if (strcmp(s, "-") == 0) return NULL;
    return utf8_to_w(s, g_w[i], NAME_UNITS);
}

static DWORD num(const char *s) {
    return (DWORD)strtoul(s, NULL, 0);
}

/* Prints "\t<key>=<value>", with newlines and tabs escaped as \n and \t so
 * that a value never breaks the line format. */
static void print_w(const char *key, const WCHAR *w) {
    char out[NAME_UNITS * 3];
    const char *p;
    printf("\t%s=", key);
    for (p = w_to_utf8(w, out, sizeof out); *p; p++) {
        if (*p == '\n') fputs("\\n", stdout);
        else if (*p == '\t') fputs("\\t", stdout);
        else putchar(*p);
    }
}

static void enumerate(DWORD scope) {
    static uint64_t buf[2048];
    HANDLE h;
    DWORD rc, count, size, i;
    NETRESOURCEW *nr = (NETRESOURCEW *)buf;

    rc = WNetOpenEnumW(scope, RESOURCETYPE_ANY, 0, NULL, &h);
    printf("enum\trc=%u\n", (unsigned)rc);
    if (rc != WN_SUCCESS) return;
    for (;;) {
        count = 0xFFFFFFFF;
        size = sizeof buf;
        rc = WNetEnumResourceW(h, &count, buf, &size);
        if (rc != WN_SUCCESS) break;
        for (i = 0; i < count; i++) {
            printf("entry\tscope=%u", (unsigned)nr[i].dwScope);
            print_w("local", nr[i].lpLocalName);
            print_w("remote", nr[i].lpRemoteName);
            print_w("provider", nr[i].lpProvider);
            printf("\n");
        }
    }
    printf("end\trc=%u\n", (unsigned)rc);
    WNetCloseEnum(h);
}

static int need(int argc, int i, int n) {
    if (i + n >= argc) {
        fprintf(stderr, "capi_steps: missing arguments\n");
        exit(2);
    }
    return 1;
}

int main(int argc, char **argv) {
    int i = 1;
    while (i < argc) {
        const char *op = argv[i];
        DWORD rc;
        if (strcmp(op, "use") == 0 && need(argc, i, 4)) {
            NETRESOURCEW nr = disk_resource(warg(argv[i + 1], 0), warg(argv[i + 2], 1),
                                            warg(argv[i + 4], 2));
            WCHAR access[NAME_UNITS];
            DWORD size = NAME_UNITS, result = 0;
            rc = WNetUseConnectionW(NULL, &nr, NULL, NULL, num(argv[i + 3]), access, &size, &result);
            printf("use\trc=%u", (unsigned)rc);
            if (rc == WN_SUCCESS) {
                print_w("access", access);
                printf("\tresult=%u", (unsigned)result);
            }
            printf("\n");
            i += 5;
        } else if (strcmp(op, "add") == 0 && need(argc, i, 2)) {
            rc = WNetAddConnectionW(warg(argv[i + 1], 0), NULL, warg(argv[i + 2], 1));
            printf("add\trc=%u\n", (unsigned)rc);
            i += 3;
        } else if (strcmp(op, "add2") == 0 && need(argc, i, 4)) {
            NETRESOURCEW nr = disk_resource(warg(argv[i + 1], 0), warg(argv[i + 2], 1),
                                            warg(argv[i + 4], 2));
            rc = WNetAddConnection2W(&nr, NULL, NULL, num(argv[i + 3]));
            printf("add2\trc=%u\n", (unsigned)rc);
            i += 5;
        } else if (strcmp(op, "add3") == 0 && need(argc, i, 3)) {
            NETRESOURCEW nr = disk_resource(warg(argv[i + 1], 0), warg(argv[i + 2], 1), NULL);
            rc = WNetAddConnection3W((HWND)&nr, &nr, NULL, NULL, num(argv[i + 3]));
            printf("add3\trc=%u\n", (unsigned)rc);
            i += 4;
        } else if (strcmp(op, "cancel") == 0 && need(argc, i, 2)) {
            rc = WNetCancelConnectionW(warg(argv[i + 1], 0), (BOOL)num(argv[i + 2]));
            printf("cancel\trc=%u\n", (unsigned)rc);
            i += 3;
        } else if (strcmp(op, "cancel2") == 0 && need(argc, i, 3)) {
            rc = WNetCancelConnection2W(warg(argv[i + 1], 0), num(argv[i + 2]),
                                        (BOOL)num(argv[i + 3]));
            printf("cancel2\trc=%u\n", (unsigned)rc);
            i += 4;
        } else if (strcmp(op, "get") == 0 && need(argc, i, 1)) {
            WCHAR remote[NAME_UNITS];
            DWORD size = NAME_UNITS;
            rc = WNetGetConnectionW(warg(argv[i + 1], 0), remote, &size);
            printf("get\trc=%u", (unsigned)rc);
            if (rc == WN_SUCCESS) print_w("remote", remote);
            printf("\n");
            i += 2;
        } else if (strcmp(op, "enum") == 0 && need(argc, i, 1)) {
            enumerate(num(argv[i + 1]));
            i += 2;
        } else if (strcmp(op, "restore") == 0 && need(argc, i, 1)) {
            rc = WNetRestoreSingleConnectionW(NULL, warg(argv[i + 1], 0), FALSE);
            printf("restore\trc=%u\n", (unsigned)rc);
            i += 2;
        } else if (strcmp(op, "lasterror") == 0) {
            DWORD code = 0;
            WCHAR text[1024], name[256];
            rc = WNetGetLastErrorW(&code, text, 1024, name, 256);
            printf("lasterror\trc=%u\tcode=%u", (unsigned)rc, (unsigned)code);
            print_w("text", text);
            print_w("provider", name);
            printf("\n");
            i += 1;
        } else {
            fprintf(stderr, "capi_steps: unknown step %s\n", op);
            return 2;
        }
        fflush(stdout);
    }
    return 0;
}
