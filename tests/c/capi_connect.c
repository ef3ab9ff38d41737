/*
 * capi_connect.c - the W connection functions of libmpr.so: every
 * function's success and error paths, the buffer protocol, and the Wine
 * test checklist for WNetUseConnection (digest §7.4 #23-#27). The A
 * functions are capi_narrow.c's.
 *
 * Run by crates/mpr-cli/tests/capi.rs (under valgrind) in a private mpr
 * world whose mpr.toml registers the scriptable provider "acme"
 * (tests/c/provider_script.c) and the notifyee "alpha". Build:
 *     cc -std=c11 -Wall -Wextra -Werror -pedantic -I include \
 *        tests/c/capi_connect.c -lmpr -o capi_connect
 */
#include "capi_check.h"

#define ACME_CONF "owns=acme,127.0.0.1\n"

static WCHAR share[] = u"\\\\acme\\share";

/* How many connections the provider was asked to make so far. */
static int provider_adds(void) {
    return log_count("P\tacme\tadd");
}

static void add2_w(void) {
    NETRESOURCEW nr;
    WCHAR lone[] = {'\\', '\\', 0xD800, 'a', '\\', 's', 0};

    CHECK_EQ(WNetAddConnection2W(NULL, NULL, NULL, 0), WN_BAD_VALUE);
    nr = disk_resource(u"Z:", NULL, NULL);
    CHECK_EQ(WNetAddConnection2W(&nr, NULL, NULL, 0), WN_BAD_NETNAME);
    nr = disk_resource(u"Z:", share, NULL);
    CHECK_EQ(WNetAddConnection2W(&nr, NULL, NULL, 0), WN_SUCCESS);
    CHECK_EQ(WNetAddConnection2W(&nr, NULL, NULL, 0), WN_ALREADY_CONNECTED);
    nr = disk_resource(u"z:", share, NULL);
    CHECK_EQ(WNetAddConnection2W(&nr, NULL, NULL, 0), WN_ALREADY_CONNECTED);

    nr = disk_resource(u"Y:", share, NULL);
    CHECK_EQ(WNetAddConnection2W(&nr, NULL, NULL, 0x01000000), WN_BAD_VALUE);
    nr.dwType = 7;
    CHECK_EQ(WNetAddConnection2W(&nr, NULL, NULL, 0), WN_BAD_VALUE);
    nr.dwType = RESOURCETYPE_ANY;
    CHECK_EQ(WNetAddConnection2W(&nr, NULL, NULL, 0), WN_BAD_VALUE);
    nr.dwType = RESOURCETYPE_PRINT;
    CHECK_EQ(WNetAddConnection2W(&nr, NULL, NULL, 0), WN_BAD_DEV_TYPE);

    /* CONNECT_REDIRECT needs WNetUseConnection to report the picked name. */
    nr = disk_resource(NULL, share, NULL);
    CHECK_EQ(WNetAddConnection2W(&nr, NULL, NULL, CONNECT_REDIRECT), WN_BAD_POINTER);

    nr = disk_resource(u"Y:", share, u"Nope");
    CHECK_EQ(WNetAddConnection2W(&nr, NULL, NULL, 0), WN_BAD_PROVIDER);
    nr = disk_resource(u"Y:", share, u"acme NETWORK");
    CHECK_EQ(WNetAddConnection2W(&nr, NULL, NULL, 0), WN_SUCCESS);
    CHECK_EQ(WNetCancelConnection2W(u"Y:", 0, TRUE), WN_SUCCESS);
    nr = disk_resource(u"Y:", share, u"");
    CHECK_EQ(WNetAddConnection2W(&nr, NULL, NULL, 0), WN_SUCCESS);
    CHECK_EQ(WNetCancelConnection2W(u"Y:", 0, TRUE), WN_SUCCESS);

    nr = disk_resource(u"LPT1", share, NULL);
    CHECK_EQ(WNetAddConnection2W(&nr, NULL, NULL, 0), WN_BAD_DEV_TYPE);
    nr = disk_resource(u"Q", share, NULL);
    CHECK_EQ(WNetAddConnection2W(&nr, NULL, NULL, 0), WN_BAD_LOCALNAME);
    nr = disk_resource(u"Y:", u"\\\\other\\x", NULL);
    CHECK_EQ(WNetAddConnection2W(&nr, NULL, NULL, 0), WN_BAD_NETNAME);
    nr = disk_resource(u"Y:", lone, NULL);
    CHECK_EQ(WNetAddConnection2W(&nr, NULL, NULL, 0), WN_BAD_VALUE);

    /* Deviceless, cancelled by its remote name. */
    nr = disk_resource(NULL, u"\\\\acme\\dl", NULL);
    CHECK_EQ(WNetAddConnection2W(&nr, NULL, NULL, CONNECT_UPDATE_PROFILE), WN_SUCCESS);
    CHECK_EQ(WNetCancelConnection2W(u"\\\\acme\\dl", 0, TRUE), WN_SUCCESS);
    CHECK_EQ(WNetCancelConnection2W(u"\\\\acme\\dl", 0, TRUE), WN_NOT_CONNECTED);
}

static void get_w(void) {
    WCHAR buf[64];
    DWORD size;

    size = 64;
    CHECK_EQ(WNetGetConnectionW(u"Z:", buf, &size), WN_SUCCESS);
    CHECK_WSTR(buf, "\\\\acme\\share");
    CHECK_EQ(size, 64); /* untouched on success */
    size = 64;
    CHECK_EQ(WNetGetConnectionW(u"z:", buf, &size), WN_SUCCESS);

    /* The size query idiom: NULL buffer, size 0. */
    size = 0;
    CHECK_EQ(WNetGetConnectionW(u"Z:", NULL, &size), WN_MORE_DATA);
    CHECK_EQ(size, 13); /* 12 characters and the terminator */
    size = 5;
    buf[0] = 0xAAAA;
    CHECK_EQ(WNetGetConnectionW(u"Z:", buf, &size), WN_MORE_DATA);
    CHECK_EQ(size, 13);
    CHECK_EQ(buf[0], 0xAAAA); /* nothing written */
    size = 13;
    CHECK_EQ(WNetGetConnectionW(u"Z:", buf, &size), WN_SUCCESS);
    CHECK_WSTR(buf, "\\\\acme\\share");

    size = 64;
    CHECK_EQ(WNetGetConnectionW(NULL, buf, &size), WN_BAD_POINTER);
    CHECK_EQ(WNetGetConnectionW(u"Z:", buf, NULL), WN_BAD_POINTER);
    size = 5;
    CHECK_EQ(WNetGetConnectionW(u"Z:", NULL, &size), WN_BAD_POINTER);
    size = 64;
    CHECK_EQ(WNetGetConnectionW(u"", buf, &size), WN_BAD_LOCALNAME);
    CHECK_EQ(WNetGetConnectionW(u"Q", buf, &size), WN_BAD_LOCALNAME);
    CHECK_EQ(WNetGetConnectionW(u"LPT1", buf, &size), WN_BAD_DEV_TYPE);
    CHECK_EQ(WNetGetConnectionW(u"X:", buf, &size), WN_NOT_CONNECTED);
    CHECK_EQ(size, 64);
}

static void cancel_w(void) {
    WCHAR buf[64];
    DWORD size = 64;

    CHECK_EQ(WNetCancelConnection2W(NULL, 0, FALSE), WN_NOT_CONNECTED);
    CHECK_EQ(WNetCancelConnection2W(u"Z:", 2, FALSE), WN_BAD_VALUE);
    CHECK_EQ(WNetCancelConnection2W(u"", 0, FALSE), WN_BAD_LOCALNAME);
    CHECK_EQ(WNetCancelConnection2W(u"X:", 0, FALSE), WN_NOT_CONNECTED);

    /* fForce = FALSE with open files keeps the connection. */
    behave("np-acme.conf", ACME_CONF "open_files=1\n");
    CHECK_EQ(WNetCancelConnection2W(u"Z:", 0, FALSE), WN_OPEN_FILES);
    CHECK_EQ(WNetGetConnectionW(u"Z:", buf, &size), WN_SUCCESS);
    CHECK_EQ(WNetCancelConnection2W(u"Z:", 0, TRUE), WN_SUCCESS);
    behave("np-acme.conf", ACME_CONF);
    CHECK_EQ(WNetGetConnectionW(u"Z:", buf, &size), WN_NOT_CONNECTED);
    CHECK_EQ(WNetCancelConnection2W(u"Z:", 0, TRUE), WN_NOT_CONNECTED);
}

/* WNetAddConnection remembers; WNetCancelConnection forgets; restore. */
static void legacy_and_restore_w(void) {
    WCHAR buf[64];
    DWORD size = 64;

    CHECK_EQ(WNetAddConnectionW(NULL, NULL, u"X:"), WN_BAD_NETNAME);
    CHECK_EQ(WNetAddConnectionW(share, u"secret", u"X:"), WN_SUCCESS);
    CHECK(log_count("local=X:\tremote=\\\\acme\\share\tuser=(null)\tpwlen=6") == 1);

    /* Cancelled with flags 0: still remembered, so "closed", not "not connected". */
    CHECK_EQ(WNetCancelConnection2W(u"X:", 0, TRUE), WN_SUCCESS);
    CHECK_EQ(WNetGetConnectionW(u"X:", buf, &size), WN_CONNECTION_CLOSED);
    CHECK_EQ(WNetRestoreSingleConnectionW(NULL, u"X:", TRUE), WN_SUCCESS);
    CHECK_EQ(WNetGetConnectionW(u"X:", buf, &size), WN_SUCCESS);
    CHECK_WSTR(buf, "\\\\acme\\share");
    /* Everything remembered is connected: restoring all is a success. */
    CHECK_EQ(WNetRestoreSingleConnectionW(NULL, NULL, FALSE), WN_SUCCESS);
    CHECK_EQ(WNetRestoreSingleConnectionW(NULL, u"U:", FALSE), WN_NOT_CONNECTED);
    CHECK_EQ(WNetRestoreSingleConnectionW(NULL, u"LPT1", FALSE), WN_BAD_DEV_TYPE);

    CHECK_EQ(WNetCancelConnectionW(u"X:", FALSE), WN_SUCCESS);
    CHECK_EQ(WNetGetConnectionW(u"X:", buf, &size), WN_NOT_CONNECTED); /* forgotten */
    CHECK_EQ(WNetCancelConnectionW(u"X:", FALSE), WN_NOT_CONNECTED);
    CHECK_EQ(WNetCancelConnectionW(NULL, FALSE), WN_NOT_CONNECTED);

    /* Deviceless: allowed, never remembered. */
    CHECK_EQ(WNetAddConnectionW(share, NULL, NULL), WN_SUCCESS);
    CHECK_EQ(WNetCancelConnectionW(share, TRUE), WN_SUCCESS);
}

static void add3_w(void) {
    NETRESOURCEW nr = disk_resource(u"W:", share, NULL);
    CHECK_EQ(WNetAddConnection3W(NULL, NULL, NULL, NULL, 0), WN_BAD_VALUE);
    CHECK_EQ(WNetAddConnection3W((HWND)&nr, &nr, u"", u"bob", CONNECT_TEMPORARY), WN_SUCCESS);
    CHECK(log_count("local=W:\tremote=\\\\acme\\share\tuser=bob\tpwlen=0\tflags=4") == 1);
    CHECK_EQ(WNetCancelConnection2W(u"W:", CONNECT_UPDATE_PROFILE, TRUE), WN_SUCCESS);
}

static void use_w(void) {
    NETRESOURCEW nr;
    WCHAR access[64], path[1024];
    DWORD size, result;
    int adds;
    char dir[1024];
    WCHAR drive[3] = u"J:";
    WCHAR dl[] = u"\\\\acme\\deviceless";

    size = 64;
    CHECK_EQ(WNetUseConnectionW(NULL, NULL, NULL, NULL, 0, access, &size, &result), WN_BAD_VALUE);
    nr = disk_resource(u"K:", NULL, NULL);
    CHECK_EQ(WNetUseConnectionW(NULL, &nr, NULL, NULL, 0, access, &size, &result), WN_BAD_VALUE);
    nr = disk_resource(u"K:", share, NULL);
    CHECK_EQ(WNetUseConnectionW(NULL, &nr, NULL, NULL, 0, access, NULL, &result), WN_BAD_VALUE);

    /* #23/#24: J: is taken, so K: is the first free letter. */
    nr = disk_resource(u"J:", share, NULL);
    CHECK_EQ(WNetAddConnection2W(&nr, NULL, NULL, 0), WN_SUCCESS);
    for (drive[0] = 'J'; drive[0] <= 'Z'; drive[0]++) {
        DWORD rc;
        nr = disk_resource(drive, share, NULL);
        size = 0;
        result = 0xFFFF;
        rc = WNetUseConnectionW(NULL, &nr, NULL, NULL, 0, NULL, &size, &result);
        if (rc == WN_ALREADY_CONNECTED) continue;
        CHECK_EQ(rc, WN_SUCCESS);
        break;
    }
    CHECK_EQ(drive[0], 'K');
    CHECK_EQ(size, 0);
    CHECK_EQ(result, CONNECT_LOCALDRIVE);
    CHECK_EQ(WNetCancelConnectionW(drive, TRUE), WN_SUCCESS);

    /* #25: a buffer with *lpBufferSize == 0 is WN_BAD_VALUE. */
    adds = provider_adds();
    size = 0;
    CHECK_EQ(WNetUseConnectionW(NULL, &nr, NULL, NULL, 0, access, &size, &result), WN_BAD_VALUE);
    CHECK_EQ(size, 0);
    /* #26: too small: the required size, and nothing connected. */
    size = 1;
    CHECK_EQ(WNetUseConnectionW(NULL, &nr, NULL, NULL, 0, access, &size, &result), WN_MORE_DATA);
    CHECK_EQ(size, 3);
    CHECK_EQ(provider_adds(), adds);
    size = 64;
    CHECK_EQ(WNetGetConnectionW(drive, path, &size), WN_NOT_CONNECTED);
    /* #27: big enough: success, the size untouched. */
    size = 4;
    result = 0;
    CHECK_EQ(WNetUseConnectionW(NULL, &nr, NULL, NULL, 0, access, &size, &result), WN_SUCCESS);
    CHECK_EQ(size, 4);
    CHECK_WSTR(access, "K:");
    CHECK_EQ(result, CONNECT_LOCALDRIVE);
    CHECK_EQ(WNetCancelConnectionW(u"K:", TRUE), WN_SUCCESS);
    CHECK_EQ(WNetCancelConnectionW(u"J:", TRUE), WN_SUCCESS);

    /* Auto-pick: Z: downwards. */
    nr = disk_resource(NULL, share, NULL);
    adds = provider_adds();
    size = 2;
    CHECK_EQ(WNetUseConnectionW(NULL, &nr, NULL, NULL, CONNECT_REDIRECT, access, &size, &result),
             WN_MORE_DATA);
    CHECK_EQ(size, 3);
    CHECK_EQ(provider_adds(), adds);
    size = 64;
    result = 0;
    CHECK_EQ(WNetUseConnectionW(NULL, &nr, NULL, NULL, CONNECT_REDIRECT, access, &size, &result),
             WN_SUCCESS);
    CHECK_WSTR(access, "Z:");
    CHECK_EQ(result, CONNECT_LOCALDRIVE);
    size = 64;
    CHECK_EQ(WNetUseConnectionW(NULL, &nr, NULL, NULL, CONNECT_REDIRECT, access, &size, &result),
             WN_SUCCESS);
    CHECK_WSTR(access, "Y:");
    CHECK_EQ(WNetCancelConnectionW(u"Z:", TRUE), WN_SUCCESS);
    CHECK_EQ(WNetCancelConnectionW(u"Y:", TRUE), WN_SUCCESS);
    nr.dwType = RESOURCETYPE_ANY;
    size = 64;
    CHECK_EQ(WNetUseConnectionW(NULL, &nr, NULL, NULL, CONNECT_REDIRECT, access, &size, &result),
             WN_BAD_VALUE);

    /* Deviceless: the access name is the directory under the runtime dir. */
    snprintf(dir, sizeof dir, "%s/unc/acme/deviceless", getenv("MPR_RUNTIME_DIR"));
    nr = disk_resource(NULL, dl, NULL);
    size = 5;
    adds = provider_adds();
    CHECK_EQ(WNetUseConnectionW(NULL, &nr, NULL, NULL, 0, path, &size, &result), WN_MORE_DATA);
    CHECK_EQ(size, strlen(dir) + 1);
    CHECK_EQ(provider_adds(), adds);
    size = 1024;
    result = 0xFFFF;
    CHECK_EQ(WNetUseConnectionW(NULL, &nr, NULL, NULL, 0, path, &size, &result), WN_SUCCESS);
    CHECK_WSTR(path, dir);
    CHECK_EQ(result, 0);
    CHECK_EQ(size, 1024);
    CHECK_EQ(WNetCancelConnectionW(dl, TRUE), WN_SUCCESS);

    /* No access buffer at all, a named provider, a NULL lpResult. */
    nr = disk_resource(u"V:", share, u"Acme Network");
    CHECK_EQ(WNetUseConnectionW(NULL, &nr, NULL, NULL, 0, NULL, NULL, NULL), WN_SUCCESS);
    CHECK_EQ(WNetUseConnectionW(NULL, &nr, NULL, NULL, 0, NULL, NULL, NULL), WN_ALREADY_CONNECTED);
    CHECK_EQ(WNetCancelConnectionW(u"V:", TRUE), WN_SUCCESS);
}

int main(void) {
    behave("np-acme.conf", ACME_CONF);
    add2_w();
    get_w();
    cancel_w();
    legacy_and_restore_w();
    add3_w();
    use_w();
    return check_finish("capi_connect");
}
