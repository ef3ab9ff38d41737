/*
 * winnetwk.h - the WNet connection API of mpr, the Multiple Provider Router
 * for Linux.
 *
 * This header lets a program written against the Windows WNet API
 * (WNetAddConnection2W, WNetCancelConnection2W, ...) build on Linux and link
 * against libmpr.so. Every name, value and structure layout here is the one of
 * the Windows NT headers; the Rust crate `mpr-abi` holds the same definitions
 * and is the source of truth (a test compiles this header and compares).
 *
 * Linux specifics, in short:
 *
 *  - WCHAR is a 16-bit UTF-16 code unit (uint16_t), never wchar_t, which is
 *    32 bits wide on Linux. Every W string is NUL-terminated UTF-16. The A
 *    entry points take UTF-8.
 *  - mpr is always "UNICODE": the generic names (NETRESOURCE,
 *    WNetAddConnection2, ...) are the W variants, whatever UNICODE says.
 *  - APIENTRY, WINAPI and CALLBACK expand to nothing: the Windows x64
 *    calling convention has no counterpart here, and the plain C ABI of
 *    x86-64 Linux is what the Rust side calls `extern "system"`.
 *
 * Writing UTF-16 literals
 * -----------------------
 * L"..." is a wchar_t (UTF-32) literal on Linux and must not be used. In C11
 * use the u"..." prefix: u"..." is an array of char16_t, and on glibc both
 * char16_t and uint16_t are `unsigned short`, so they are compatible types and
 * no cast is needed:
 *
 *     static const WCHAR local[] = u"Z:";
 *     LPCWSTR remote = u"\\\\server\\share";
 *
 * Both lines compile with `-std=c11 -Wall -Wextra -Werror -pedantic` (the
 * project's abi_check test does exactly that). C++ treats char16_t as a
 * distinct type, so C++ code needs `reinterpret_cast<LPCWSTR>(u"Z:")` or an
 * array initialised element by element.
 *
 * Sharing the base types
 * ----------------------
 * DWORD, BOOL, WCHAR, the LP* pointer types, TRUE/FALSE and the
 * calling-convention macros are defined once, under the guard
 * MPR_BASE_TYPES_DEFINED. A program that already has compatible definitions
 * (same widths) may define MPR_BASE_TYPES_DEFINED before including this file.
 */
#ifndef MPR_WINNETWK_H
#define MPR_WINNETWK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Base types (shared with npapi.h)                                          */
/* ------------------------------------------------------------------------ */

#ifndef MPR_BASE_TYPES_DEFINED
#define MPR_BASE_TYPES_DEFINED 1

typedef uint32_t DWORD;    /* unsigned 32-bit */
typedef int32_t BOOL;      /* signed 32-bit, 0 is FALSE */
typedef uint16_t WCHAR;    /* one UTF-16 code unit */

typedef WCHAR *LPWSTR;
typedef const WCHAR *LPCWSTR;
typedef char *LPSTR;
typedef const char *LPCSTR;

typedef void *HWND;        /* owner window: opaque, usually NULL on Linux */
typedef void *LPVOID;
typedef void *PVOID;
typedef void *HANDLE;      /* enumeration handles */

typedef DWORD *LPDWORD;
typedef HANDLE *LPHANDLE;

#ifndef VOID
#define VOID void
#endif
#ifndef TRUE
#define TRUE 1
#endif
#ifndef FALSE
#define FALSE 0
#endif
#ifndef APIENTRY
#define APIENTRY
#endif
#ifndef WINAPI
#define WINAPI
#endif
#ifndef CALLBACK
#define CALLBACK
#endif

#endif /* MPR_BASE_TYPES_DEFINED */

/* ------------------------------------------------------------------------ */
/* WN_* status codes                                                         */
/*                                                                           */
/* Each equals a Win32 ERROR_* code (named in the comment). Every WNet       */
/* function and every plugin entry point returns one of them.                */
/* ------------------------------------------------------------------------ */

#define WN_SUCCESS                          0    /* NO_ERROR */
#define WN_NO_ERROR                         0    /* NO_ERROR */
#define WN_ACCESS_DENIED                    5    /* ERROR_ACCESS_DENIED */
#define WN_BAD_HANDLE                       6    /* ERROR_INVALID_HANDLE */
#define WN_OUT_OF_MEMORY                    8    /* ERROR_NOT_ENOUGH_MEMORY */
#define WN_DEVICE_ERROR                     31   /* ERROR_GEN_FAILURE */
#define WN_NOT_SUPPORTED                    50   /* ERROR_NOT_SUPPORTED */
#define WN_NET_ERROR                        59   /* ERROR_UNEXP_NET_ERR */
#define WN_WINDOWS_ERROR                    59   /* ERROR_UNEXP_NET_ERR (same value) */
#define WN_BAD_DEV_TYPE                     66   /* ERROR_BAD_DEV_TYPE */
#define WN_BAD_NETNAME                      67   /* ERROR_BAD_NET_NAME */
#define WN_ALREADY_CONNECTED                85   /* ERROR_ALREADY_ASSIGNED */
#define WN_BAD_PASSWORD                     86   /* ERROR_INVALID_PASSWORD */
#define WN_BAD_VALUE                        87   /* ERROR_INVALID_PARAMETER */
#define WN_BAD_LEVEL                        124  /* ERROR_INVALID_LEVEL */
#define WN_FUNCTION_BUSY                    170  /* ERROR_BUSY */
#define WN_MORE_DATA                        234  /* ERROR_MORE_DATA */
#define WN_NO_MORE_ENTRIES                  259  /* ERROR_NO_MORE_ITEMS */
#define WN_BAD_POINTER                      487  /* ERROR_INVALID_ADDRESS */
#define WN_BAD_LOCALNAME                    1200 /* ERROR_BAD_DEVICE */
#define WN_CONNECTION_CLOSED                1201 /* ERROR_CONNECTION_UNAVAIL */
#define WN_DEVICE_ALREADY_REMEMBERED        1202 /* ERROR_DEVICE_ALREADY_REMEMBERED */
#define WN_NO_NET_OR_BAD_PATH               1203 /* ERROR_NO_NET_OR_BAD_PATH */
#define WN_BAD_PROVIDER                     1204 /* ERROR_BAD_PROVIDER */
#define WN_CANNOT_OPEN_PROFILE              1205 /* ERROR_CANNOT_OPEN_PROFILE */
#define WN_BAD_PROFILE                      1206 /* ERROR_BAD_PROFILE */
#define WN_NOT_CONTAINER                    1207 /* ERROR_NOT_CONTAINER */
#define WN_EXTENDED_ERROR                   1208 /* ERROR_EXTENDED_ERROR */
#define WN_NO_NETWORK                       1222 /* ERROR_NO_NETWORK */
#define WN_CANCEL                           1223 /* ERROR_CANCELLED */
#define WN_RETRY                            1237 /* ERROR_RETRY */
#define WN_NOT_AUTHENTICATED                1244 /* ERROR_NOT_AUTHENTICATED */
#define WN_NOT_LOGGED_ON                    1245 /* ERROR_NOT_LOGGED_ON */
#define WN_NOT_INITIALIZING                 1247 /* ERROR_ALREADY_INITIALIZED */
#define WN_NO_MORE_DEVICES                  1248 /* ERROR_NO_MORE_DEVICES */
#define WN_NOT_VALIDATED                    1311 /* ERROR_NO_LOGON_SERVERS */
#define WN_CONNECTED_OTHER_PASSWORD         2108 /* ERROR_CONNECTED_OTHER_PASSWORD */
#define WN_CONNECTED_OTHER_PASSWORD_DEFAULT 2109 /* ERROR_CONNECTED_OTHER_PASSWORD_DEFAULT */
#define WN_BAD_USER                         2202 /* ERROR_BAD_USERNAME */
#define WN_NOT_CONNECTED                    2250 /* ERROR_NOT_CONNECTED */
#define WN_OPEN_FILES                       2401 /* ERROR_OPEN_FILES */
#define WN_DEVICE_IN_USE                    2404 /* ERROR_DEVICE_IN_USE */

/*
 * Win32 codes without a WN_* name that the connection API uses. Guarded, so
 * that a program with its own winerror.h-style definitions keeps them.
 */
#ifndef ERROR_BAD_NETPATH
#define ERROR_BAD_NETPATH                   53   /* network path not found ("not mine") */
#endif
#ifndef ERROR_NETNAME_DELETED
#define ERROR_NETNAME_DELETED               64   /* network name no longer available */
#endif
#ifndef ERROR_INVALID_NAME
#define ERROR_INVALID_NAME                  123  /* name syntax is incorrect */
#endif
#ifndef ERROR_SESSION_CREDENTIAL_CONFLICT
#define ERROR_SESSION_CREDENTIAL_CONFLICT   1219 /* other credentials already in use */
#endif
#ifndef ERROR_LOGON_FAILURE
#define ERROR_LOGON_FAILURE                 1326 /* unknown user name or bad password */
#endif

/* ------------------------------------------------------------------------ */
/* CONNECT_* flags (dwFlags of the add and cancel functions)                 */
/* ------------------------------------------------------------------------ */

#define CONNECT_UPDATE_PROFILE          0x00000001 /* add: remember; cancel: forget */
#define CONNECT_UPDATE_RECENT           0x00000002 /* recent-connections list */
#define CONNECT_TEMPORARY               0x00000004 /* short-lived, never remembered */
#define CONNECT_INTERACTIVE             0x00000008 /* may ask the user for credentials */
#define CONNECT_PROMPT                  0x00000010 /* always offer a choice (with INTERACTIVE) */
#define CONNECT_NEED_DRIVE              0x00000020 /* undocumented */
#define CONNECT_REFCOUNT                0x00000040 /* Win9x reference counting */
#define CONNECT_REDIRECT                0x00000080 /* redirect a local device, auto-pick if none */
#define CONNECT_LOCALDRIVE              0x00000100 /* output only: a local device was redirected */
#define CONNECT_CURRENT_MEDIA           0x00000200 /* do not bring up new media */
#define CONNECT_DEFERRED                0x00000400 /* restore disconnected, connect lazily */
#define CONNECT_COMMANDLINE             0x00000800 /* prompt on the console */
#define CONNECT_CMD_SAVECRED            0x00001000 /* save prompted credentials */
#define CONNECT_CRED_RESET              0x00002000 /* reset prompted credentials */
#define CONNECT_REQUIRE_INTEGRITY       0x00004000 /* require signing */
#define CONNECT_REQUIRE_PRIVACY         0x00008000 /* require encryption */
#define CONNECT_WRITE_THROUGH_SEMANTICS 0x00010000 /* write-through */
#define CONNECT_GLOBAL_MAPPING          0x00040000 /* a global mapping */
#define CONNECT_RESERVED                0xFF000000 /* reserved bits */

/* ------------------------------------------------------------------------ */
/* NETRESOURCE field values                                                  */
/* ------------------------------------------------------------------------ */

/* dwScope */
#define RESOURCE_CONNECTED              1
#define RESOURCE_GLOBALNET              2
#define RESOURCE_REMEMBERED             3
#define RESOURCE_RECENT                 4
#define RESOURCE_CONTEXT                5

/* dwType */
#define RESOURCETYPE_ANY                0
#define RESOURCETYPE_DISK               1
#define RESOURCETYPE_PRINT              2
#define RESOURCETYPE_RESERVED           8
#define RESOURCETYPE_UNKNOWN            0xFFFFFFFF

/* dwUsage (bits) */
#define RESOURCEUSAGE_CONNECTABLE       0x00000001
#define RESOURCEUSAGE_CONTAINER         0x00000002
#define RESOURCEUSAGE_NOLOCALDEVICE     0x00000004
#define RESOURCEUSAGE_SIBLING           0x00000008
#define RESOURCEUSAGE_ATTACHED          0x00000010
#define RESOURCEUSAGE_ALL               0x00000013 /* CONNECTABLE | CONTAINER | ATTACHED */
#define RESOURCEUSAGE_RESERVED          0x80000000

/* dwDisplayType */
#define RESOURCEDISPLAYTYPE_GENERIC      0x00000000
#define RESOURCEDISPLAYTYPE_DOMAIN       0x00000001
#define RESOURCEDISPLAYTYPE_SERVER       0x00000002
#define RESOURCEDISPLAYTYPE_SHARE        0x00000003
#define RESOURCEDISPLAYTYPE_FILE         0x00000004
#define RESOURCEDISPLAYTYPE_GROUP        0x00000005
#define RESOURCEDISPLAYTYPE_NETWORK      0x00000006
#define RESOURCEDISPLAYTYPE_ROOT         0x00000007
#define RESOURCEDISPLAYTYPE_SHAREADMIN   0x00000008
#define RESOURCEDISPLAYTYPE_DIRECTORY    0x00000009
#define RESOURCEDISPLAYTYPE_TREE         0x0000000A
#define RESOURCEDISPLAYTYPE_NDSCONTAINER 0x0000000B

/* ------------------------------------------------------------------------ */
/* NETRESOURCE                                                               */
/*                                                                           */
/* Natural alignment, no packing. On x86-64 Linux: four DWORDs at 0/4/8/12,  */
/* then the four string pointers at 16/24/32/40; 48 bytes in all.            */
/* ------------------------------------------------------------------------ */

typedef struct _NETRESOURCEA {
    DWORD dwScope;       /* RESOURCE_* */
    DWORD dwType;        /* RESOURCETYPE_* */
    DWORD dwDisplayType; /* RESOURCEDISPLAYTYPE_* */
    DWORD dwUsage;       /* RESOURCEUSAGE_* bits */
    LPSTR lpLocalName;   /* "Z:" or a directory, or NULL */
    LPSTR lpRemoteName;  /* "\\server\share" */
    LPSTR lpComment;     /* provider comment, or NULL */
    LPSTR lpProvider;    /* provider display name, or NULL */
} NETRESOURCEA, *LPNETRESOURCEA;

typedef struct _NETRESOURCEW {
    DWORD dwScope;       /* RESOURCE_* */
    DWORD dwType;        /* RESOURCETYPE_* */
    DWORD dwDisplayType; /* RESOURCEDISPLAYTYPE_* */
    DWORD dwUsage;       /* RESOURCEUSAGE_* bits */
    LPWSTR lpLocalName;  /* u"Z:" or a directory, or NULL */
    LPWSTR lpRemoteName; /* u"\\\\server\\share" */
    LPWSTR lpComment;    /* provider comment, or NULL */
    LPWSTR lpProvider;   /* provider display name, or NULL */
} NETRESOURCEW, *LPNETRESOURCEW;

/* The generic names: mpr on Linux is always UNICODE. */
typedef NETRESOURCEW NETRESOURCE;
typedef LPNETRESOURCEW LPNETRESOURCE;

/* ------------------------------------------------------------------------ */
/* Layout checks (x86-64 and other LP64 targets)                             */
/* ------------------------------------------------------------------------ */

#if defined(__cplusplus) && __cplusplus >= 201103L
#define MPR_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#elif !defined(__cplusplus) && defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define MPR_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif

#if defined(MPR_STATIC_ASSERT) && (defined(__LP64__) || defined(_LP64))
MPR_STATIC_ASSERT(sizeof(DWORD) == 4, "DWORD is 32 bits");
MPR_STATIC_ASSERT(sizeof(BOOL) == 4, "BOOL is 32 bits");
MPR_STATIC_ASSERT(sizeof(WCHAR) == 2, "WCHAR is one UTF-16 unit");
MPR_STATIC_ASSERT(sizeof(NETRESOURCEW) == 48, "sizeof NETRESOURCEW");
MPR_STATIC_ASSERT(offsetof(NETRESOURCEW, dwScope) == 0, "NETRESOURCEW.dwScope");
MPR_STATIC_ASSERT(offsetof(NETRESOURCEW, dwType) == 4, "NETRESOURCEW.dwType");
MPR_STATIC_ASSERT(offsetof(NETRESOURCEW, dwDisplayType) == 8, "NETRESOURCEW.dwDisplayType");
MPR_STATIC_ASSERT(offsetof(NETRESOURCEW, dwUsage) == 12, "NETRESOURCEW.dwUsage");
MPR_STATIC_ASSERT(offsetof(NETRESOURCEW, lpLocalName) == 16, "NETRESOURCEW.lpLocalName");
MPR_STATIC_ASSERT(offsetof(NETRESOURCEW, lpRemoteName) == 24, "NETRESOURCEW.lpRemoteName");
MPR_STATIC_ASSERT(offsetof(NETRESOURCEW, lpComment) == 32, "NETRESOURCEW.lpComment");
MPR_STATIC_ASSERT(offsetof(NETRESOURCEW, lpProvider) == 40, "NETRESOURCEW.lpProvider");
MPR_STATIC_ASSERT(sizeof(NETRESOURCEA) == 48, "sizeof NETRESOURCEA");
MPR_STATIC_ASSERT(offsetof(NETRESOURCEA, dwScope) == 0, "NETRESOURCEA.dwScope");
MPR_STATIC_ASSERT(offsetof(NETRESOURCEA, dwType) == 4, "NETRESOURCEA.dwType");
MPR_STATIC_ASSERT(offsetof(NETRESOURCEA, dwDisplayType) == 8, "NETRESOURCEA.dwDisplayType");
MPR_STATIC_ASSERT(offsetof(NETRESOURCEA, dwUsage) == 12, "NETRESOURCEA.dwUsage");
MPR_STATIC_ASSERT(offsetof(NETRESOURCEA, lpLocalName) == 16, "NETRESOURCEA.lpLocalName");
MPR_STATIC_ASSERT(offsetof(NETRESOURCEA, lpRemoteName) == 24, "NETRESOURCEA.lpRemoteName");
MPR_STATIC_ASSERT(offsetof(NETRESOURCEA, lpComment) == 32, "NETRESOURCEA.lpComment");
MPR_STATIC_ASSERT(offsetof(NETRESOURCEA, lpProvider) == 40, "NETRESOURCEA.lpProvider");
#endif

/* ------------------------------------------------------------------------ */
/* WNet functions (implemented by libmpr.so)                                 */
/*                                                                           */
/* Lengths and buffer sizes are in characters (WCHAR for W, bytes for A).    */
/* Each function returns a WN_* code; WN_EXTENDED_ERROR means "ask           */
/* WNetGetLastError for the provider's own code and text".                   */
/* ------------------------------------------------------------------------ */

/* Connect (remembered, as on Windows): dwType ANY, provider chosen by mpr. */
DWORD APIENTRY WNetAddConnectionW(LPCWSTR lpRemoteName, LPCWSTR lpPassword, LPCWSTR lpLocalName);
DWORD APIENTRY WNetAddConnectionA(LPCSTR lpRemoteName, LPCSTR lpPassword, LPCSTR lpLocalName);

DWORD APIENTRY WNetAddConnection2W(LPNETRESOURCEW lpNetResource, LPCWSTR lpPassword,
                                   LPCWSTR lpUserName, DWORD dwFlags);
DWORD APIENTRY WNetAddConnection2A(LPNETRESOURCEA lpNetResource, LPCSTR lpPassword,
                                   LPCSTR lpUserName, DWORD dwFlags);

DWORD APIENTRY WNetAddConnection3W(HWND hwndOwner, LPNETRESOURCEW lpNetResource,
                                   LPCWSTR lpPassword, LPCWSTR lpUserName, DWORD dwFlags);
DWORD APIENTRY WNetAddConnection3A(HWND hwndOwner, LPNETRESOURCEA lpNetResource,
                                   LPCSTR lpPassword, LPCSTR lpUserName, DWORD dwFlags);

/*
 * Connect and report the access name: the local name (the drive picked with
 * CONNECT_REDIRECT and no local name), or for a connection without a local
 * name the directory it is reachable at (<runtime dir>/unc/<server>/<share>).
 * *lpBufferSize is checked before anything is connected.
 */
DWORD APIENTRY WNetUseConnectionW(HWND hwndOwner, LPNETRESOURCEW lpNetResource,
                                  LPCWSTR lpPassword, LPCWSTR lpUserId, DWORD dwFlags,
                                  LPWSTR lpAccessName, LPDWORD lpBufferSize,
                                  LPDWORD lpResult);
DWORD APIENTRY WNetUseConnectionA(HWND hwndOwner, LPNETRESOURCEA lpNetResource,
                                  LPCSTR lpPassword, LPCSTR lpUserId, DWORD dwFlags,
                                  LPSTR lpAccessName, LPDWORD lpBufferSize,
                                  LPDWORD lpResult);

/* Cancel: same as WNetCancelConnection2 with CONNECT_UPDATE_PROFILE. */
DWORD APIENTRY WNetCancelConnectionW(LPCWSTR lpName, BOOL fForce);
DWORD APIENTRY WNetCancelConnectionA(LPCSTR lpName, BOOL fForce);

DWORD APIENTRY WNetCancelConnection2W(LPCWSTR lpName, DWORD dwFlags, BOOL fForce);
DWORD APIENTRY WNetCancelConnection2A(LPCSTR lpName, DWORD dwFlags, BOOL fForce);

/* The remote name behind a local name; *lpnLength in characters. */
DWORD APIENTRY WNetGetConnectionW(LPCWSTR lpLocalName, LPWSTR lpRemoteName, LPDWORD lpnLength);
DWORD APIENTRY WNetGetConnectionA(LPCSTR lpLocalName, LPSTR lpRemoteName, LPDWORD lpnLength);

/*
 * Enumeration of RESOURCE_CONNECTED and RESOURCE_REMEMBERED (a snapshot taken
 * by WNetOpenEnum). WNetEnumResource fills lpBuffer with an array of
 * NETRESOURCE followed by the strings they point to (placed from the end of
 * the buffer); *lpBufferSize is in bytes.
 */
DWORD APIENTRY WNetOpenEnumW(DWORD dwScope, DWORD dwType, DWORD dwUsage,
                             LPNETRESOURCEW lpNetResource, LPHANDLE lphEnum);
DWORD APIENTRY WNetOpenEnumA(DWORD dwScope, DWORD dwType, DWORD dwUsage,
                             LPNETRESOURCEA lpNetResource, LPHANDLE lphEnum);
DWORD APIENTRY WNetEnumResourceW(HANDLE hEnum, LPDWORD lpcCount, LPVOID lpBuffer,
                                 LPDWORD lpBufferSize);
DWORD APIENTRY WNetEnumResourceA(HANDLE hEnum, LPDWORD lpcCount, LPVOID lpBuffer,
                                 LPDWORD lpBufferSize);
DWORD APIENTRY WNetCloseEnum(HANDLE hEnum);

/* The calling thread's extended error, as stored by a provider. */
DWORD APIENTRY WNetGetLastErrorW(LPDWORD lpError, LPWSTR lpErrorBuf, DWORD nErrorBufSize,
                                 LPWSTR lpNameBuf, DWORD nNameBufSize);
DWORD APIENTRY WNetGetLastErrorA(LPDWORD lpError, LPSTR lpErrorBuf, DWORD nErrorBufSize,
                                 LPSTR lpNameBuf, DWORD nNameBufSize);

/* Reconnect one remembered connection, or all of them when lpDevice is NULL or
 * empty (sends no notifications; hwndParent and fUseUI are ignored). */
DWORD APIENTRY WNetRestoreSingleConnectionW(HWND hwndParent, LPCWSTR lpDevice, BOOL fUseUI);

/* Generic names, always the W variants. */
#define WNetAddConnection        WNetAddConnectionW
#define WNetAddConnection2       WNetAddConnection2W
#define WNetAddConnection3       WNetAddConnection3W
#define WNetUseConnection        WNetUseConnectionW
#define WNetCancelConnection     WNetCancelConnectionW
#define WNetCancelConnection2    WNetCancelConnection2W
#define WNetGetConnection        WNetGetConnectionW
#define WNetOpenEnum             WNetOpenEnumW
#define WNetEnumResource         WNetEnumResourceW
#define WNetGetLastError         WNetGetLastErrorW
#define WNetRestoreSingleConnection WNetRestoreSingleConnectionW

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* MPR_WINNETWK_H */
