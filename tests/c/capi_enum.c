/*
 * capi_enum.c - WNetOpenEnum / WNetEnumResource / WNetCloseEnum of
 * libmpr.so, W and A: scopes, handles, the packed buffer layout, partial
 * deliveries, WN_MORE_DATA and WN_NO_MORE_ENTRIES.
 *
 * Run by crates/mpr-cli/tests/capi.rs (under valgrind) with the scriptable
 * provider "acme" registered.
 */
#include "capi_check.h"

#define BUF_BYTES 16384

/* 8-byte aligned, like a malloc'ed buffer. */
static uint64_t g_buf[BUF_BYTES / 8];

/* Whether p points inside the buffer, after `count` structures of `size`. */
static int in_string_area(const void *p, DWORD count, size_t size, DWORD buf_bytes) {
    const char *b = (const char *)g_buf;
    const char *c = (const char *)p;
    return c >= b + count * size && c < b + buf_bytes;
}

static void errors(void) {
    HANDLE h = NULL;
    DWORD count, size;

    CHECK_EQ(WNetOpenEnumW(RESOURCE_CONNECTED, RESOURCETYPE_ANY, 0, NULL, NULL), WN_BAD_POINTER);
    CHECK_EQ(WNetOpenEnumW(RESOURCE_GLOBALNET, RESOURCETYPE_ANY, 0, NULL, &h), WN_NOT_SUPPORTED);
    CHECK_EQ(WNetOpenEnumW(RESOURCE_CONTEXT, RESOURCETYPE_ANY, 0, NULL, &h), WN_NOT_SUPPORTED);
    CHECK_EQ(WNetOpenEnumW(RESOURCE_RECENT, RESOURCETYPE_ANY, 0, NULL, &h), WN_BAD_VALUE);
    CHECK_EQ(WNetOpenEnumW(99, RESOURCETYPE_ANY, 0, NULL, &h), WN_BAD_VALUE);
    CHECK_EQ(WNetOpenEnumW(RESOURCE_CONNECTED, 3, 0, NULL, &h), WN_BAD_VALUE);
    CHECK(h == NULL); /* not written on failure */

    CHECK_EQ(WNetCloseEnum(NULL), WN_BAD_HANDLE);
    CHECK_EQ(WNetCloseEnum((HANDLE)(uintptr_t)0x12345678), WN_BAD_HANDLE);
    count = 1;
    size = sizeof g_buf;
    CHECK_EQ(WNetEnumResourceW(NULL, &count, g_buf, &size), WN_BAD_HANDLE);

    /* Nothing connected yet: open, then immediately the end. */
    CHECK_EQ(WNetOpenEnumW(RESOURCE_CONNECTED, RESOURCETYPE_ANY, 0, NULL, &h), WN_SUCCESS);
    CHECK(h != NULL);
    CHECK_EQ(WNetEnumResourceW(h, NULL, g_buf, &size), WN_BAD_POINTER);
    CHECK_EQ(WNetEnumResourceW(h, &count, NULL, &size), WN_BAD_POINTER);
    CHECK_EQ(WNetEnumResourceW(h, &count, g_buf, NULL), WN_BAD_POINTER);
    count = 0;
    CHECK_EQ(WNetEnumResourceW(h, &count, g_buf, &size), WN_BAD_VALUE);
    count = 0xFFFFFFFF;
    CHECK_EQ(WNetEnumResourceW(h, &count, g_buf, &size), WN_NO_MORE_ENTRIES);
    CHECK_EQ(count, 0);
    CHECK_EQ(WNetCloseEnum(h), WN_SUCCESS);
    CHECK_EQ(WNetCloseEnum(h), WN_BAD_HANDLE);
    count = 1;
    CHECK_EQ(WNetEnumResourceW(h, &count, g_buf, &size), WN_BAD_HANDLE);
}

static void connect_three(void) {
    NETRESOURCEW nr;
    nr = disk_resource(u"Z:", u"\\\\acme\\a", NULL);
    CHECK_EQ(WNetAddConnection2W(&nr, NULL, NULL, 0), WN_SUCCESS);
    nr = disk_resource(u"Y:", u"\\\\acme\\b", NULL);
    CHECK_EQ(WNetAddConnection2W(&nr, NULL, NULL, CONNECT_UPDATE_PROFILE), WN_SUCCESS);
    nr = disk_resource(NULL, u"\\\\acme\\c", NULL);
    CHECK_EQ(WNetAddConnection2W(&nr, NULL, NULL, 0), WN_SUCCESS);
}

static void connected_w(void) {
    HANDLE h;
    DWORD count, size, i;
    NETRESOURCEW *nr = (NETRESOURCEW *)g_buf;
    int seen_z = 0, seen_y = 0, seen_dl = 0;

    CHECK_EQ(WNetOpenEnumW(RESOURCE_CONNECTED, RESOURCETYPE_DISK, 0, NULL, &h), WN_SUCCESS);
    count = 0xFFFFFFFF;
    size = sizeof g_buf;
    CHECK_EQ(WNetEnumResourceW(h, &count, g_buf, &size), WN_SUCCESS);
    CHECK_EQ(count, 3);
    CHECK_EQ(size, sizeof g_buf); /* untouched on success */
    for (i = 0; i < count && i < 3; i++) {
        char remote[64];
        CHECK_EQ(nr[i].dwScope, RESOURCE_CONNECTED);
        CHECK_EQ(nr[i].dwType, RESOURCETYPE_DISK);
        CHECK_EQ(nr[i].dwDisplayType, RESOURCEDISPLAYTYPE_SHARE);
        CHECK_EQ(nr[i].dwUsage, RESOURCEUSAGE_CONNECTABLE);
        CHECK(nr[i].lpComment == NULL);
        CHECK_WSTR(nr[i].lpProvider, "Acme Network");
        CHECK(in_string_area(nr[i].lpRemoteName, count, sizeof *nr, sizeof g_buf));
        CHECK(in_string_area(nr[i].lpProvider, count, sizeof *nr, sizeof g_buf));
        w_to_utf8(nr[i].lpRemoteName, remote, sizeof remote);
        if (strcmp(remote, "\\\\acme\\a") == 0) {
            CHECK_WSTR(nr[i].lpLocalName, "Z:");
            seen_z++;
        } else if (strcmp(remote, "\\\\acme\\b") == 0) {
            CHECK_WSTR(nr[i].lpLocalName, "Y:");
            seen_y++;
        } else if (strcmp(remote, "\\\\acme\\c") == 0) {
            CHECK(nr[i].lpLocalName == NULL); /* deviceless */
            seen_dl++;
        }
    }
    CHECK(seen_z == 1 && seen_y == 1 && seen_dl == 1);
    count = 0xFFFFFFFF;
    CHECK_EQ(WNetEnumResourceW(h, &count, g_buf, &size), WN_NO_MORE_ENTRIES);
    CHECK_EQ(WNetCloseEnum(h), WN_SUCCESS);

    /* One at a time. */
    CHECK_EQ(WNetOpenEnumW(RESOURCE_CONNECTED, RESOURCETYPE_ANY, 0, NULL, &h), WN_SUCCESS);
    for (i = 0; i < 3; i++) {
        count = 1;
        size = sizeof g_buf;
        CHECK_EQ(WNetEnumResourceW(h, &count, g_buf, &size), WN_SUCCESS);
        CHECK_EQ(count, 1);
    }
    count = 1;
    CHECK_EQ(WNetEnumResourceW(h, &count, g_buf, &size), WN_NO_MORE_ENTRIES);
    CHECK_EQ(WNetCloseEnum(h), WN_SUCCESS);

    /* Too small for one entry: the size one needs, then exactly that. */
    CHECK_EQ(WNetOpenEnumW(RESOURCE_CONNECTED, RESOURCETYPE_ANY, 0, NULL, &h), WN_SUCCESS);
    count = 0xFFFFFFFF;
    size = sizeof(NETRESOURCEW);
    CHECK_EQ(WNetEnumResourceW(h, &count, g_buf, &size), WN_MORE_DATA);
    CHECK(size > sizeof(NETRESOURCEW));
    CHECK_EQ(count, 0xFFFFFFFF); /* untouched */
    CHECK_EQ(WNetEnumResourceW(h, &count, g_buf, &size), WN_SUCCESS);
    CHECK_EQ(count, 1);
    CHECK(in_string_area(nr[0].lpRemoteName, 1, sizeof *nr, size));
    /* The rest, with a buffer for everything. */
    count = 0xFFFFFFFF;
    size = sizeof g_buf;
    CHECK_EQ(WNetEnumResourceW(h, &count, g_buf, &size), WN_SUCCESS);
    CHECK_EQ(count, 2);
    CHECK_EQ(WNetCloseEnum(h), WN_SUCCESS);

    /* A snapshot: a connection made after the open is not listed. */
    CHECK_EQ(WNetOpenEnumW(RESOURCE_CONNECTED, RESOURCETYPE_ANY, 0, NULL, &h), WN_SUCCESS);
    {
        NETRESOURCEW x = disk_resource(u"X:", u"\\\\acme\\x", NULL);
        CHECK_EQ(WNetAddConnection2W(&x, NULL, NULL, 0), WN_SUCCESS);
    }
    count = 0xFFFFFFFF;
    size = sizeof g_buf;
    CHECK_EQ(WNetEnumResourceW(h, &count, g_buf, &size), WN_SUCCESS);
    CHECK_EQ(count, 3);
    CHECK_EQ(WNetCloseEnum(h), WN_SUCCESS);
    CHECK_EQ(WNetCancelConnection2W(u"X:", 0, TRUE), WN_SUCCESS);

    /* No printers here. */
    CHECK_EQ(WNetOpenEnumW(RESOURCE_CONNECTED, RESOURCETYPE_PRINT, 0, NULL, &h), WN_SUCCESS);
    count = 0xFFFFFFFF;
    CHECK_EQ(WNetEnumResourceW(h, &count, g_buf, &size), WN_NO_MORE_ENTRIES);
    CHECK_EQ(WNetCloseEnum(h), WN_SUCCESS);
}

static void remembered_w(void) {
    HANDLE h;
    DWORD count = 0xFFFFFFFF, size = sizeof g_buf;
    NETRESOURCEW *nr = (NETRESOURCEW *)g_buf;

    CHECK_EQ(WNetOpenEnumW(RESOURCE_REMEMBERED, RESOURCETYPE_ANY, 0, NULL, &h), WN_SUCCESS);
    CHECK_EQ(WNetEnumResourceW(h, &count, g_buf, &size), WN_SUCCESS);
    CHECK_EQ(count, 1);
    CHECK_EQ(nr[0].dwScope, RESOURCE_REMEMBERED);
    CHECK_EQ(nr[0].dwType, RESOURCETYPE_DISK);
    CHECK_EQ(nr[0].dwDisplayType, RESOURCEDISPLAYTYPE_GENERIC);
    CHECK_EQ(nr[0].dwUsage, RESOURCEUSAGE_CONNECTABLE);
    CHECK_WSTR(nr[0].lpLocalName, "Y:");
    CHECK_WSTR(nr[0].lpRemoteName, "\\\\acme\\b");
    CHECK_WSTR(nr[0].lpProvider, "Acme Network");
    CHECK(nr[0].lpComment == NULL);
    CHECK_EQ(WNetEnumResourceW(h, &count, g_buf, &size), WN_NO_MORE_ENTRIES);
    CHECK_EQ(WNetCloseEnum(h), WN_SUCCESS);

    /* Remembered but not connected: still listed as remembered, not as connected. */
    CHECK_EQ(WNetCancelConnection2W(u"Y:", 0, TRUE), WN_SUCCESS);
    CHECK_EQ(WNetOpenEnumW(RESOURCE_REMEMBERED, RESOURCETYPE_ANY, 0, NULL, &h), WN_SUCCESS);
    count = 0xFFFFFFFF;
    CHECK_EQ(WNetEnumResourceW(h, &count, g_buf, &size), WN_SUCCESS);
    CHECK_EQ(count, 1);
    CHECK_EQ(WNetCloseEnum(h), WN_SUCCESS);
    CHECK_EQ(WNetOpenEnumW(RESOURCE_CONNECTED, RESOURCETYPE_ANY, 0, NULL, &h), WN_SUCCESS);
    count = 0xFFFFFFFF;
    CHECK_EQ(WNetEnumResourceW(h, &count, g_buf, &size), WN_SUCCESS);
    CHECK_EQ(count, 2);
    CHECK_EQ(WNetCloseEnum(h), WN_SUCCESS);
}

static void narrow(void) {
    HANDLE h;
    DWORD count = 0xFFFFFFFF, size = sizeof g_buf, i;
    NETRESOURCEA *nr = (NETRESOURCEA *)g_buf;
    NETRESOURCEA q;
    char remote[] = "\\\\acme\\d\xc3\xa9p\xc3\xb4t";
    int seen = 0;

    memset(&q, 0, sizeof q);
    q.dwType = RESOURCETYPE_DISK;
    q.lpLocalName = "Q:";
    q.lpRemoteName = remote;
    CHECK_EQ(WNetAddConnection2A(&q, NULL, NULL, 0), WN_SUCCESS);
    CHECK_EQ(WNetOpenEnumA(RESOURCE_CONNECTED, RESOURCETYPE_ANY, 0, NULL, &h), WN_SUCCESS);
    CHECK_EQ(WNetEnumResourceA(h, &count, g_buf, &size), WN_SUCCESS);
    CHECK_EQ(count, 3);
    for (i = 0; i < count && i < 3; i++) {
        CHECK_STR(nr[i].lpProvider, "Acme Network");
        CHECK(in_string_area(nr[i].lpRemoteName, count, sizeof *nr, sizeof g_buf));
        if (nr[i].lpLocalName && strcmp(nr[i].lpLocalName, "Q:") == 0) {
            CHECK_STR(nr[i].lpRemoteName, remote);
            seen++;
        }
    }
    CHECK_EQ(seen, 1);
    CHECK_EQ(WNetCloseEnum(h), WN_SUCCESS);

    /* The size needed in A counts bytes: one structure and three strings. */
    CHECK_EQ(WNetOpenEnumA(RESOURCE_REMEMBERED, RESOURCETYPE_ANY, 0, NULL, &h), WN_SUCCESS);
    count = 1;
    size = 10;
    CHECK_EQ(WNetEnumResourceA(h, &count, g_buf, &size), WN_MORE_DATA);
    CHECK_EQ(size, sizeof(NETRESOURCEA) + sizeof "Y:" + sizeof "\\\\acme\\b" + sizeof "Acme Network");
    CHECK_EQ(WNetEnumResourceA(h, &count, g_buf, &size), WN_SUCCESS);
    CHECK_STR(nr[0].lpLocalName, "Y:");
    CHECK_EQ(WNetCloseEnum(h), WN_SUCCESS);
    CHECK_EQ(WNetCancelConnection2A("Q:", 0, TRUE), WN_SUCCESS);
}

int main(void) {
    behave("np-acme.conf", "owns=acme\n");
    errors();
    connect_three();
    connected_w();
    remembered_w();
    narrow();
    return check_finish("capi_enum");
}
