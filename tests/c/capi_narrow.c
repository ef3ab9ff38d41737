/*
 * capi_narrow.c - the A connection functions of libmpr.so (UTF-8 is the
 * narrow code page; sizes count bytes), and the Wine test of
 * WNetUseConnectionA exactly as it runs on Windows (digest §7.4 #23-#27).
 *
 * Run by crates/mpr-cli/tests/capi.rs (under valgrind) in a private mpr
 * world whose mpr.toml registers the scriptable provider "acme"
 * (tests/c/provider_script.c) and the notifyee "alpha".
 */
#include "capi_check.h"

#define ACME_CONF "owns=acme,127.0.0.1\n"

/* The Win32 name the Wine test uses for WN_ALREADY_CONNECTED. */
#define ERROR_ALREADY_ASSIGNED 85

/* The A functions: UTF-8, sizes in bytes. */
static void narrow(void) {
    NETRESOURCEA nr;
    char buf[64], access[8];
    char remote[] = "\\\\acme\\d\xc3\xa9p\xc3\xb4t"; /* \\acme\dépôt */
    char bad[] = "\\\\acme\\\xff";
    WCHAR wbuf[64];
    DWORD size, result, rc;
    char drive[3] = "J:";

    CHECK_EQ(WNetAddConnection2A(NULL, NULL, NULL, 0), WN_BAD_VALUE);
    memset(&nr, 0, sizeof nr);
    nr.dwType = RESOURCETYPE_DISK;
    nr.lpLocalName = "Q:";
    nr.lpRemoteName = remote;
    CHECK_EQ(WNetAddConnection2A(&nr, NULL, NULL, 0), WN_SUCCESS);
    size = 0;
    CHECK_EQ(WNetGetConnectionA("Q:", NULL, &size), WN_MORE_DATA);
    CHECK_EQ(size, strlen(remote) + 1);
    CHECK_EQ(WNetGetConnectionA("Q:", buf, &size), WN_SUCCESS);
    CHECK_STR(buf, remote);
    size = 0;
    CHECK_EQ(WNetGetConnectionW(u"Q:", NULL, &size), WN_MORE_DATA);
    CHECK_EQ(size, 13); /* the same name counts 12 WCHARs */
    size = 64;
    CHECK_EQ(WNetGetConnectionW(u"Q:", wbuf, &size), WN_SUCCESS);
    CHECK_WSTR(wbuf, remote);
    size = 64;
    CHECK_EQ(WNetGetConnectionA(NULL, buf, &size), WN_BAD_POINTER);
    CHECK_EQ(WNetGetConnectionA("Q:", buf, NULL), WN_BAD_POINTER);
    CHECK_EQ(WNetGetConnectionA("R:", buf, &size), WN_NOT_CONNECTED);
    CHECK_EQ(WNetCancelConnection2A("Q:", 0, TRUE), WN_SUCCESS);
    CHECK_EQ(WNetCancelConnection2A("Q:", 0, TRUE), WN_NOT_CONNECTED);
    CHECK_EQ(WNetCancelConnection2A(NULL, 0, TRUE), WN_NOT_CONNECTED);

    nr.lpRemoteName = bad;
    CHECK_EQ(WNetAddConnection2A(&nr, NULL, NULL, 0), WN_BAD_VALUE);
    nr.lpRemoteName = remote;
    CHECK_EQ(WNetAddConnection3A(NULL, &nr, "pw", "alice", 0), WN_SUCCESS);
    CHECK(log_count("user=alice\tpwlen=2") == 1);
    CHECK_EQ(WNetCancelConnectionA("Q:", TRUE), WN_SUCCESS);

    CHECK_EQ(WNetAddConnectionA("\\\\acme\\a", NULL, "P:"), WN_SUCCESS);
    size = 64;
    CHECK_EQ(WNetGetConnectionA("p:", buf, &size), WN_SUCCESS);
    CHECK_STR(buf, "\\\\acme\\a");
    CHECK_EQ(WNetCancelConnectionA("P:", TRUE), WN_SUCCESS);
    CHECK_EQ(WNetAddConnectionA(bad, NULL, "P:"), WN_BAD_VALUE);

    /* The Wine test, as written for Windows (digest §7.4 #23-#27). */
    memset(&nr, 0, sizeof nr);
    nr.dwType = RESOURCETYPE_DISK;
    nr.dwDisplayType = RESOURCEDISPLAYTYPE_SHARE;
    nr.dwUsage = RESOURCEUSAGE_CONNECTABLE;
    nr.lpRemoteName = "\\\\127.0.0.1\\c$";
    nr.lpLocalName = drive;
    CHECK_EQ(WNetAddConnection2A(&nr, NULL, NULL, 0), WN_SUCCESS); /* J: is taken */
    for (drive[0] = 'J'; drive[0] <= 'Z'; drive[0]++) {
        size = 0;
        rc = WNetUseConnectionA(NULL, &nr, NULL, NULL, 0, NULL, &size, &result);
        if (rc == ERROR_ALREADY_ASSIGNED) continue;
        CHECK_EQ(rc, WN_SUCCESS);                                        /* #24 */
        CHECK_EQ(size, 0);
        break;
    }
    CHECK_STR(drive, "K:");
    CHECK_EQ(WNetCancelConnectionA(drive, TRUE), WN_SUCCESS);
    size = 0;
    CHECK_EQ(WNetUseConnectionA(NULL, &nr, NULL, NULL, 0, access, &size, &result), WN_BAD_VALUE);
    CHECK_EQ(size, 0);                                                   /* #25 */
    size = 1;
    CHECK_EQ(WNetUseConnectionA(NULL, &nr, NULL, NULL, 0, access, &size, &result), WN_MORE_DATA);
    CHECK_EQ(size, 3);                                                   /* #26 */
    size = 4;
    CHECK_EQ(WNetUseConnectionA(NULL, &nr, NULL, NULL, 0, access, &size, &result), WN_SUCCESS);
    CHECK_EQ(size, 4);                                                   /* #27 */
    CHECK_STR(access, "K:");
    CHECK_EQ(result, CONNECT_LOCALDRIVE);
    CHECK_EQ(WNetCancelConnectionA("K:", TRUE), WN_SUCCESS);
    CHECK_EQ(WNetCancelConnectionA("J:", TRUE), WN_SUCCESS);

    /* Deviceless through A: the access name in bytes. */
    nr.lpLocalName = NULL;
    size = 5;
    CHECK_EQ(WNetUseConnectionA(NULL, &nr, NULL, NULL, 0, buf, &size, &result), WN_MORE_DATA);
    CHECK_EQ(size, strlen(getenv("MPR_RUNTIME_DIR")) + strlen("/unc/127.0.0.1/c$") + 1);
}

/* "\\acme\" followed by n copies of the UTF-8 sequence `unit`; the
 * caller frees it. */
static char *acme_name(const char *unit, size_t n) {
    const char *prefix = "\\\\acme\\";
    size_t pl = strlen(prefix), ul = strlen(unit), i;
    char *s = malloc(pl + ul * n + 1);
    if (s == NULL) abort();
    memcpy(s, prefix, pl);
    for (i = 0; i < n; i++) memcpy(s + pl + i * ul, unit, ul);
    s[pl + ul * n] = 0;
    return s;
}

/* Adds `name` on Q: through A; on success cancels it again. */
static DWORD add_a(char *name) {
    NETRESOURCEA nr;
    DWORD rc;
    memset(&nr, 0, sizeof nr);
    nr.dwType = RESOURCETYPE_DISK;
    nr.lpLocalName = "Q:";
    nr.lpRemoteName = name;
    rc = WNetAddConnection2A(&nr, NULL, NULL, 0);
    if (rc == WN_SUCCESS) CHECK_EQ(WNetCancelConnection2A("Q:", 0, TRUE), WN_SUCCESS);
    free(name);
    return rc;
}

/* The 4,096 limit on a name counts UTF-16 units whatever the width, not
 * the bytes of its UTF-8 (issue 11): "\\acme\" is 7 units. */
static void long_names(void) {
    /* 3,008 units in 6,009 bytes. */
    CHECK_EQ(add_a(acme_name("\xc3\xa9", 3001)), WN_SUCCESS);
    /* 4,096 units in 12,274 bytes (U+20AC is 3 bytes, 1 unit): at the limit. */
    CHECK_EQ(add_a(acme_name("\xe2\x82\xac", 4089)), WN_SUCCESS);
    /* 4,097 units: one over. */
    CHECK_EQ(add_a(acme_name("\xe2\x82\xac", 4090)), WN_BAD_VALUE);
    /* U+1F600 is 4 bytes and 2 units: 4,095 units fit, 4,097 do not. */
    CHECK_EQ(add_a(acme_name("\xf0\x9f\x98\x80", 2044)), WN_SUCCESS);
    CHECK_EQ(add_a(acme_name("\xf0\x9f\x98\x80", 2045)), WN_BAD_VALUE);
    /* ASCII: bytes and units agree. */
    CHECK_EQ(add_a(acme_name("x", 4089)), WN_SUCCESS);
    CHECK_EQ(add_a(acme_name("x", 4090)), WN_BAD_VALUE);
}

int main(void) {
    behave("np-acme.conf", ACME_CONF);
    narrow();
    long_names();
    return check_finish("capi_narrow");
}
