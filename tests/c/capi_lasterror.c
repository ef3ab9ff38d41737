/*
 * capi_lasterror.c - WNetGetLastError / WNetSetLastError of libmpr.so, W
 * and A: nothing stored, truncation, per-thread records, a provider's
 * extended error (WN_EXTENDED_ERROR), the router's own detail, and several
 * threads connecting at once, each with its own record.
 *
 * Run by crates/mpr-cli/tests/capi.rs (under valgrind) with the scriptable
 * provider "acme" registered. The provider calls WNetSetLastErrorW, which
 * it finds in libmpr.so (this program's only provider of the symbol).
 */
#include "capi_check.h"

#include <pthread.h>

static void *other_thread(void *arg) {
    DWORD code = 99;
    WCHAR text[64], name[64];
    (void)arg;
    /* A new thread sees nothing of the main thread's record. */
    CHECK_EQ(WNetGetLastErrorW(&code, text, 64, name, 64), WN_SUCCESS);
    CHECK_EQ(code, 0);
    CHECK_EQ(text[0], 0);
    WNetSetLastErrorW(7, u"thread text", u"thread");
    CHECK_EQ(WNetGetLastErrorW(&code, text, 64, name, 64), WN_SUCCESS);
    CHECK_EQ(code, 7);
    CHECK_WSTR(text, "thread text");
    return NULL;
}

static void set_and_get(void) {
    DWORD code = 99;
    WCHAR text[64], name[64];
    char atext[64], aname[64];
    pthread_t t;

    /* Nothing stored: NO_ERROR, code 0, empty strings. */
    text[0] = name[0] = 0xAAAA;
    CHECK_EQ(WNetGetLastErrorW(&code, text, 64, name, 64), WN_SUCCESS);
    CHECK_EQ(code, 0);
    CHECK_EQ(text[0], 0);
    CHECK_EQ(name[0], 0);
    CHECK_EQ(WNetGetLastErrorW(NULL, text, 64, name, 64), WN_BAD_POINTER);
    CHECK_EQ(WNetGetLastErrorW(&code, NULL, 64, name, 64), WN_BAD_POINTER);
    CHECK_EQ(WNetGetLastErrorW(&code, text, 64, NULL, 64), WN_BAD_POINTER);
    CHECK_EQ(WNetGetLastErrorW(&code, NULL, 0, NULL, 0), WN_SUCCESS);

    WNetSetLastErrorW(1234, u"disk on fire", u"acme");
    CHECK_EQ(WNetGetLastErrorW(&code, text, 64, name, 64), WN_SUCCESS);
    CHECK_EQ(code, 1234);
    CHECK_WSTR(text, "disk on fire");
    CHECK_WSTR(name, "acme");
    /* Truncated, still terminated; reading does not consume the record. */
    CHECK_EQ(WNetGetLastErrorW(&code, text, 5, name, 1), WN_SUCCESS);
    CHECK_WSTR(text, "disk");
    CHECK_EQ(name[0], 0);
    CHECK_EQ(WNetGetLastErrorA(&code, atext, 64, aname, 64), WN_SUCCESS);
    CHECK_STR(atext, "disk on fire");
    CHECK_STR(aname, "acme");

    /* A: UTF-8 in, UTF-16 out; truncation never splits a character. */
    WNetSetLastErrorA(5, "d\xc3\xa9j\xc3\xa0 vu", "\xc3\xa9t\xc3\xa9");
    CHECK_EQ(WNetGetLastErrorW(&code, text, 64, name, 64), WN_SUCCESS);
    CHECK_EQ(code, 5);
    CHECK_WSTR(text, "d\xc3\xa9j\xc3\xa0 vu");
    CHECK_WSTR(name, "\xc3\xa9t\xc3\xa9");
    CHECK_EQ(WNetGetLastErrorA(&code, atext, 3, aname, 64), WN_SUCCESS);
    CHECK_STR(atext, "d"); /* "dé" would need 3 bytes plus the terminator */
    CHECK_EQ(WNetGetLastErrorA(&code, atext, 4, aname, 64), WN_SUCCESS);
    CHECK_STR(atext, "d\xc3\xa9");
    WNetSetLastErrorW(0, NULL, NULL);
    CHECK_EQ(WNetGetLastErrorA(&code, atext, 64, aname, 64), WN_SUCCESS);
    CHECK_EQ(code, 0);
    CHECK_STR(atext, "");

    /* Per thread. */
    WNetSetLastErrorW(1234, u"main text", u"main");
    CHECK_EQ(pthread_create(&t, NULL, other_thread, NULL), 0);
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK_EQ(WNetGetLastErrorW(&code, text, 64, name, 64), WN_SUCCESS);
    CHECK_EQ(code, 1234);
    CHECK_WSTR(text, "main text");
}

static void through_the_router(void) {
    DWORD code = 0, size = 256;
    WCHAR text[256], name[64];
    char atext[256];
    NETRESOURCEW nr = disk_resource(u"Z:", u"\\\\acme\\share", NULL);

    /* A provider's extended error reaches the caller. */
    behave("np-acme.conf", "ext_error=4242\n");
    CHECK_EQ(WNetAddConnection2W(&nr, NULL, NULL, 0), WN_EXTENDED_ERROR);
    CHECK_EQ(WNetGetLastErrorW(&code, text, 256, name, 64), WN_SUCCESS);
    CHECK_EQ(code, 4242);
    CHECK_WSTR(text, "acme: extended detail 4242");
    CHECK_WSTR(name, "acme");
    behave("np-acme.conf", "");

    /* The router's own detail, from mpr. */
    CHECK_EQ(WNetAddConnection2W(NULL, NULL, NULL, 0), WN_BAD_VALUE);
    CHECK_EQ(WNetGetLastErrorA(&code, atext, 256, NULL, 0), WN_SUCCESS);
    CHECK_EQ(code, WN_BAD_VALUE);
    CHECK(strstr(atext, "lpNetResource") != NULL);
    CHECK_EQ(WNetGetLastErrorW(&code, text, 256, name, 64), WN_SUCCESS);
    CHECK_WSTR(name, "mpr");
    CHECK_EQ(WNetGetConnectionW(u"Y:", text, &size), WN_NOT_CONNECTED);
    CHECK_EQ(WNetGetLastErrorA(&code, atext, 256, NULL, 0), WN_SUCCESS);
    CHECK_STR(atext, "Y: is not connected");

    /* A successful call clears the record. */
    CHECK_EQ(WNetAddConnection2W(&nr, NULL, NULL, 0), WN_SUCCESS);
    CHECK_EQ(WNetGetLastErrorW(&code, text, 256, name, 64), WN_SUCCESS);
    CHECK_EQ(code, 0);
    CHECK_EQ(WNetCancelConnectionW(u"Z:", TRUE), WN_SUCCESS);
}

/* One of several threads calling at once: its own drive, its own record.
 * Returns how many of its expectations failed (CHECK is not thread-safe). */
static void *worker(void *arg) {
    static const char letters[] = "PQRS";
    int i = (int)(intptr_t)arg, bad = 0;
    WCHAR local[3] = {(WCHAR)letters[i], ':', 0};
    WCHAR other[3] = {(WCHAR)(letters[i] - 4), ':', 0}; /* L: to O:, never connected */
    WCHAR remote[32], got[32];
    char want[64], text[256];
    const char prefix[4] = {(char)(letters[i] - 4), ':', ' ', 0}; /* "L: is not connected" */
    DWORD size = 32, code = 0;
    NETRESOURCEW nr;
    int round;

    snprintf(want, sizeof want, "\\\\acme\\t%d", i);
    utf8_to_w(want, remote, 32);
    nr = disk_resource(local, remote, NULL);
    for (round = 0; round < 3; round++) {
        bad += WNetAddConnection2W(&nr, NULL, NULL, 0) != WN_SUCCESS;
        size = 32;
        bad += WNetGetConnectionW(local, got, &size) != WN_SUCCESS;
        bad += memcmp(got, remote, (wlen(remote) + 1) * sizeof(WCHAR)) != 0;
        size = 32;
        bad += WNetGetConnectionW(other, got, &size) != WN_NOT_CONNECTED;
        bad += WNetGetLastErrorA(&code, text, sizeof text, NULL, 0) != WN_SUCCESS;
        bad += code != WN_NOT_CONNECTED;
        bad += strncmp(text, prefix, 3) != 0;
        bad += WNetCancelConnection2W(local, 0, TRUE) != WN_SUCCESS;
    }
    return (void *)(intptr_t)bad;
}

static void concurrent_threads(void) {
    pthread_t t[4];
    void *bad;
    int i;
    for (i = 0; i < 4; i++) CHECK_EQ(pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i), 0);
    for (i = 0; i < 4; i++) {
        CHECK_EQ(pthread_join(t[i], &bad), 0);
        CHECK_EQ((intptr_t)bad, 0);
    }
}

int main(void) {
    set_and_get();
    through_the_router();
    concurrent_threads();
    return check_finish("capi_lasterror");
}
