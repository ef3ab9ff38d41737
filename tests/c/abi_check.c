/*
 * abi_check.c - pins the C view of the mpr ABI.
 *
 * Compiled by crates/mpr-abi/tests/header.rs with
 *     cc -std=c11 -Wall -Wextra -Werror -pedantic -I include tests/c/abi_check.c
 * It holds its own compile-time layout checks, and when run prints one line
 * per constant and per structure field:
 *     NAME VALUE                      (VALUE in decimal)
 *     sizeof STRUCT N
 *     offsetof STRUCT FIELD N
 * which the Rust test compares with the mpr-abi crate.
 *
 * npapi.h comes first on purpose: it includes winnetwk.h itself, and the
 * second include must then be a no-op.
 */
#include "npapi.h"
#include "winnetwk.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Layout, checked here as well as in the headers                           */
/* ------------------------------------------------------------------------ */

#if !defined(__LP64__) && !defined(_LP64)
#error "abi_check.c expects an LP64 target (x86-64 Linux)"
#endif

_Static_assert(sizeof(DWORD) == 4 && (DWORD)-1 > 0, "DWORD is unsigned 32-bit");
_Static_assert(sizeof(BOOL) == 4 && (BOOL)-1 < 0, "BOOL is signed 32-bit");
_Static_assert(sizeof(WCHAR) == 2 && (WCHAR)-1 > 0, "WCHAR is unsigned 16-bit");
_Static_assert(sizeof(HWND) == 8 && sizeof(LPVOID) == 8 && sizeof(HANDLE) == 8, "pointers");

_Static_assert(sizeof(NETRESOURCEW) == 48, "NETRESOURCEW");
_Static_assert(offsetof(NETRESOURCEW, dwScope) == 0, "NETRESOURCEW.dwScope");
_Static_assert(offsetof(NETRESOURCEW, dwType) == 4, "NETRESOURCEW.dwType");
_Static_assert(offsetof(NETRESOURCEW, dwDisplayType) == 8, "NETRESOURCEW.dwDisplayType");
_Static_assert(offsetof(NETRESOURCEW, dwUsage) == 12, "NETRESOURCEW.dwUsage");
_Static_assert(offsetof(NETRESOURCEW, lpLocalName) == 16, "NETRESOURCEW.lpLocalName");
_Static_assert(offsetof(NETRESOURCEW, lpRemoteName) == 24, "NETRESOURCEW.lpRemoteName");
_Static_assert(offsetof(NETRESOURCEW, lpComment) == 32, "NETRESOURCEW.lpComment");
_Static_assert(offsetof(NETRESOURCEW, lpProvider) == 40, "NETRESOURCEW.lpProvider");

_Static_assert(sizeof(NETRESOURCEA) == 48, "NETRESOURCEA");
_Static_assert(offsetof(NETRESOURCEA, dwScope) == 0, "NETRESOURCEA.dwScope");
_Static_assert(offsetof(NETRESOURCEA, dwType) == 4, "NETRESOURCEA.dwType");
_Static_assert(offsetof(NETRESOURCEA, dwDisplayType) == 8, "NETRESOURCEA.dwDisplayType");
_Static_assert(offsetof(NETRESOURCEA, dwUsage) == 12, "NETRESOURCEA.dwUsage");
_Static_assert(offsetof(NETRESOURCEA, lpLocalName) == 16, "NETRESOURCEA.lpLocalName");
_Static_assert(offsetof(NETRESOURCEA, lpRemoteName) == 24, "NETRESOURCEA.lpRemoteName");
_Static_assert(offsetof(NETRESOURCEA, lpComment) == 32, "NETRESOURCEA.lpComment");
_Static_assert(offsetof(NETRESOURCEA, lpProvider) == 40, "NETRESOURCEA.lpProvider");

_Static_assert(sizeof(NOTIFYINFO) == 16, "NOTIFYINFO");
_Static_assert(offsetof(NOTIFYINFO, dwNotifyStatus) == 0, "NOTIFYINFO.dwNotifyStatus");
_Static_assert(offsetof(NOTIFYINFO, dwOperationStatus) == 4, "NOTIFYINFO.dwOperationStatus");
_Static_assert(offsetof(NOTIFYINFO, lpContext) == 8, "NOTIFYINFO.lpContext");

_Static_assert(sizeof(NOTIFYADD) == 64, "NOTIFYADD");
_Static_assert(offsetof(NOTIFYADD, hwndOwner) == 0, "NOTIFYADD.hwndOwner");
_Static_assert(offsetof(NOTIFYADD, NetResource) == 8, "NOTIFYADD.NetResource");
_Static_assert(offsetof(NOTIFYADD, dwAddFlags) == 56, "NOTIFYADD.dwAddFlags");

_Static_assert(sizeof(NOTIFYCANCEL) == 24, "NOTIFYCANCEL");
_Static_assert(offsetof(NOTIFYCANCEL, lpName) == 0, "NOTIFYCANCEL.lpName");
_Static_assert(offsetof(NOTIFYCANCEL, lpProvider) == 8, "NOTIFYCANCEL.lpProvider");
_Static_assert(offsetof(NOTIFYCANCEL, dwFlags) == 16, "NOTIFYCANCEL.dwFlags");
_Static_assert(offsetof(NOTIFYCANCEL, fForce) == 20, "NOTIFYCANCEL.fForce");

/* The generic names are the W variants. */
_Static_assert(sizeof(NETRESOURCE) == sizeof(NETRESOURCEW), "NETRESOURCE is NETRESOURCEW");

/* ------------------------------------------------------------------------ */
/* The u"" idiom: no cast, warnings as errors                                */
/* ------------------------------------------------------------------------ */

static const WCHAR idiom_local[] = u"Z:";
static const WCHAR idiom_remote[] = u"\\\\server\\share";

static int check_idiom(void) {
    LPCWSTR p = u"Z:";
    NETRESOURCE nr;
    memset(&nr, 0, sizeof nr);
    nr.dwType = RESOURCETYPE_DISK;
    nr.lpLocalName = (LPWSTR)idiom_local;
    nr.lpRemoteName = (LPWSTR)idiom_remote;
    return sizeof idiom_local == 3 * sizeof(WCHAR) && idiom_local[0] == 'Z' &&
           idiom_local[1] == ':' && idiom_local[2] == 0 && p[0] == 'Z' &&
           idiom_remote[0] == '\\' && nr.lpRemoteName[2] == 's';
}

/*
 * The PF_* types must match the declared entry points. _Generic does not
 * evaluate its operand, so nothing here needs the functions at link time.
 */
#define SAME_TYPE(fn, pf) _Static_assert(_Generic(&fn, pf: 1, default: 0), #pf " matches " #fn);
SAME_TYPE(AddConnectNotify, PF_AddConnectNotify)
SAME_TYPE(CancelConnectNotify, PF_CancelConnectNotify)
SAME_TYPE(NPGetCaps, PF_NPGetCaps)
SAME_TYPE(NPAddConnection, PF_NPAddConnection)
SAME_TYPE(NPAddConnection3, PF_NPAddConnection3)
SAME_TYPE(NPCancelConnection, PF_NPCancelConnection)
SAME_TYPE(NPCancelConnection2, PF_NPCancelConnection2)
SAME_TYPE(NPGetConnection, PF_NPGetConnection)
SAME_TYPE(WNetSetLastErrorW, PF_WNetSetLastErrorW)

/* ------------------------------------------------------------------------ */
/* The listing                                                               */
/* ------------------------------------------------------------------------ */

#define CONSTANTS(X)                                                                 \
    /* WN_* */                                                                       \
    X(WN_SUCCESS) X(WN_NO_ERROR) X(WN_ACCESS_DENIED) X(WN_BAD_HANDLE)                \
    X(WN_OUT_OF_MEMORY) X(WN_DEVICE_ERROR) X(WN_NOT_SUPPORTED) X(WN_NET_ERROR)       \
    X(WN_WINDOWS_ERROR) X(WN_BAD_DEV_TYPE) X(WN_BAD_NETNAME) X(WN_ALREADY_CONNECTED) \
    X(WN_BAD_PASSWORD) X(WN_BAD_VALUE) X(WN_BAD_LEVEL) X(WN_FUNCTION_BUSY)           \
    X(WN_MORE_DATA) X(WN_NO_MORE_ENTRIES) X(WN_BAD_POINTER) X(WN_BAD_LOCALNAME)      \
    X(WN_CONNECTION_CLOSED) X(WN_DEVICE_ALREADY_REMEMBERED) X(WN_NO_NET_OR_BAD_PATH) \
    X(WN_BAD_PROVIDER) X(WN_CANNOT_OPEN_PROFILE) X(WN_BAD_PROFILE)                   \
    X(WN_NOT_CONTAINER) X(WN_EXTENDED_ERROR) X(WN_NO_NETWORK) X(WN_CANCEL)           \
    X(WN_RETRY) X(WN_NOT_AUTHENTICATED) X(WN_NOT_LOGGED_ON) X(WN_NOT_INITIALIZING)   \
    X(WN_NO_MORE_DEVICES) X(WN_NOT_VALIDATED) X(WN_CONNECTED_OTHER_PASSWORD)         \
    X(WN_CONNECTED_OTHER_PASSWORD_DEFAULT) X(WN_BAD_USER) X(WN_NOT_CONNECTED)        \
    X(WN_OPEN_FILES) X(WN_DEVICE_IN_USE)                                             \
    /* ERROR_* */                                                                    \
    X(ERROR_BAD_NETPATH) X(ERROR_NETNAME_DELETED) X(ERROR_INVALID_NAME)              \
    X(ERROR_SESSION_CREDENTIAL_CONFLICT) X(ERROR_LOGON_FAILURE)                      \
    /* CONNECT_* */                                                                  \
    X(CONNECT_UPDATE_PROFILE) X(CONNECT_UPDATE_RECENT) X(CONNECT_TEMPORARY)          \
    X(CONNECT_INTERACTIVE) X(CONNECT_PROMPT) X(CONNECT_NEED_DRIVE)                   \
    X(CONNECT_REFCOUNT) X(CONNECT_REDIRECT) X(CONNECT_LOCALDRIVE)                    \
    X(CONNECT_CURRENT_MEDIA) X(CONNECT_DEFERRED) X(CONNECT_COMMANDLINE)              \
    X(CONNECT_CMD_SAVECRED) X(CONNECT_CRED_RESET) X(CONNECT_REQUIRE_INTEGRITY)       \
    X(CONNECT_REQUIRE_PRIVACY) X(CONNECT_WRITE_THROUGH_SEMANTICS)                    \
    X(CONNECT_GLOBAL_MAPPING) X(CONNECT_RESERVED)                                    \
    /* RESOURCE* */                                                                  \
    X(RESOURCE_CONNECTED) X(RESOURCE_GLOBALNET) X(RESOURCE_REMEMBERED)               \
    X(RESOURCE_RECENT) X(RESOURCE_CONTEXT)                                           \
    X(RESOURCETYPE_ANY) X(RESOURCETYPE_DISK) X(RESOURCETYPE_PRINT)                   \
    X(RESOURCETYPE_RESERVED) X(RESOURCETYPE_UNKNOWN)                                 \
    X(RESOURCEUSAGE_CONNECTABLE) X(RESOURCEUSAGE_CONTAINER)                          \
    X(RESOURCEUSAGE_NOLOCALDEVICE) X(RESOURCEUSAGE_SIBLING)                          \
    X(RESOURCEUSAGE_ATTACHED) X(RESOURCEUSAGE_ALL) X(RESOURCEUSAGE_RESERVED)         \
    X(RESOURCEDISPLAYTYPE_GENERIC) X(RESOURCEDISPLAYTYPE_DOMAIN)                     \
    X(RESOURCEDISPLAYTYPE_SERVER) X(RESOURCEDISPLAYTYPE_SHARE)                       \
    X(RESOURCEDISPLAYTYPE_FILE) X(RESOURCEDISPLAYTYPE_GROUP)                         \
    X(RESOURCEDISPLAYTYPE_NETWORK) X(RESOURCEDISPLAYTYPE_ROOT)                       \
    X(RESOURCEDISPLAYTYPE_SHAREADMIN) X(RESOURCEDISPLAYTYPE_DIRECTORY)               \
    X(RESOURCEDISPLAYTYPE_TREE) X(RESOURCEDISPLAYTYPE_NDSCONTAINER)                  \
    /* WNNC_* */                                                                     \
    X(WNNC_SPEC_VERSION) X(WNNC_SPEC_VERSION51) X(WNNC_NET_TYPE) X(WNNC_NET_NONE)    \
    X(WNNC_NET_SMB) X(WNNC_NET_DAV) X(WNNC_DRIVER_VERSION) X(WNNC_USER)              \
    X(WNNC_USR_GETUSER) X(WNNC_CONNECTION) X(WNNC_CON_ADDCONNECTION)                 \
    X(WNNC_CON_CANCELCONNECTION) X(WNNC_CON_GETCONNECTIONS)                          \
    X(WNNC_CON_ADDCONNECTION3) X(WNNC_CON_ADDCONNECTION4)                            \
    X(WNNC_CON_CANCELCONNECTION2) X(WNNC_CON_GETPERFORMANCE) X(WNNC_CON_DEFER)       \
    X(WNNC_DIALOG) X(WNNC_ADMIN) X(WNNC_ENUMERATION) X(WNNC_ENUM_GLOBAL)             \
    X(WNNC_ENUM_LOCAL) X(WNNC_ENUM_CONTEXT) X(WNNC_ENUM_SHAREABLE) X(WNNC_START)     \
    X(WNNC_WAIT_FOR_START) X(WNNC_CONNECTION_FLAGS) X(WNNC_CF_DEFAULT)               \
    X(WNNC_CF_MAXIMUM)                                                               \
    /* NOTIFY_*, WNGETCON_* */                                                       \
    X(NOTIFY_PRE) X(NOTIFY_POST) X(WNGETCON_CONNECTED) X(WNGETCON_DISCONNECTED)

/* Every constant must fit a DWORD (none may be negative or wider). */
#define CHECK_RANGE(name)                                                          \
    _Static_assert((long long)(name) >= 0 && (unsigned long long)(name) <= 0xFFFFFFFFull, \
                   #name " fits a DWORD");
CONSTANTS(CHECK_RANGE)

#define PRINT_CONSTANT(name) printf("%s %lu\n", #name, (unsigned long)(DWORD)(name));

#define FIELDS(F)                                                                    \
    F(NETRESOURCEW, dwScope) F(NETRESOURCEW, dwType) F(NETRESOURCEW, dwDisplayType)  \
    F(NETRESOURCEW, dwUsage) F(NETRESOURCEW, lpLocalName)                            \
    F(NETRESOURCEW, lpRemoteName) F(NETRESOURCEW, lpComment)                         \
    F(NETRESOURCEW, lpProvider)                                                      \
    F(NETRESOURCEA, dwScope) F(NETRESOURCEA, dwType) F(NETRESOURCEA, dwDisplayType)  \
    F(NETRESOURCEA, dwUsage) F(NETRESOURCEA, lpLocalName)                            \
    F(NETRESOURCEA, lpRemoteName) F(NETRESOURCEA, lpComment)                         \
    F(NETRESOURCEA, lpProvider)                                                      \
    F(NOTIFYINFO, dwNotifyStatus) F(NOTIFYINFO, dwOperationStatus)                   \
    F(NOTIFYINFO, lpContext)                                                         \
    F(NOTIFYADD, hwndOwner) F(NOTIFYADD, NetResource) F(NOTIFYADD, dwAddFlags)       \
    F(NOTIFYCANCEL, lpName) F(NOTIFYCANCEL, lpProvider) F(NOTIFYCANCEL, dwFlags)     \
    F(NOTIFYCANCEL, fForce)

#define STRUCTS(S) S(NETRESOURCEW) S(NETRESOURCEA) S(NOTIFYINFO) S(NOTIFYADD) S(NOTIFYCANCEL)

#define PRINT_SIZE(type) printf("sizeof %s %zu\n", #type, sizeof(type));
#define PRINT_OFFSET(type, field) \
    printf("offsetof %s %s %zu\n", #type, #field, offsetof(type, field));

int main(void) {
    if (!check_idiom()) {
        fprintf(stderr, "abi_check: the u\"\" idiom produced unexpected code units\n");
        return 1;
    }
    CONSTANTS(PRINT_CONSTANT)
    STRUCTS(PRINT_SIZE)
    FIELDS(PRINT_OFFSET)
    return fflush(stdout) == 0 ? 0 : 1;
}
