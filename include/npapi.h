/*
 * npapi.h - the plugin interface of mpr, the Multiple Provider Router for
 * Linux: connection notifyees (AddConnectNotify / CancelConnectNotify) and
 * network providers (NP*).
 *
 * Names, values and layouts are those of the Windows NT npapi.h; the Rust
 * crate `mpr-abi` holds the same definitions and is the source of truth.
 * Includes winnetwk.h, so either header may come first. See winnetwk.h for the
 * base types and for writing UTF-16 literals (the u"..." idiom).
 *
 * Rules the router keeps, and plugins may rely on
 * ----------------------------------------------
 *
 *  - Borrowed for the call only. Every pointer mpr passes to a plugin
 *    (structures, and the UTF-16 strings they point to, lpName, lpPassword,
 *    ...) belongs to mpr and is valid only until the plugin function returns.
 *    Copy what you need to keep. Never free what mpr gave you, and never
 *    expect mpr to free what you allocated: lpContext is yours.
 *
 *  - Concurrency. mpr may call one notifyee (or one provider) from several
 *    threads at the same time, each call for a different operation. Guard any
 *    state shared between calls; per-operation state belongs in lpContext.
 *
 *  - Notifications. For every add and cancel operation mpr calls each
 *    notifyee twice: NOTIFY_PRE before any provider is asked, NOTIFY_POST
 *    once the result is known. In PRE, lpContext is NULL. A notifyee that
 *    leaves lpContext NULL in PRE gets no POST for that operation. A
 *    notifyee that stores a non-NULL value gets exactly that value back in
 *    its POST, and is the one to free it. Returning anything other than
 *    WN_SUCCESS (or WN_RETRY) from PRE vetoes the operation and that code
 *    becomes its result. Returning WN_RETRY from the POST of a failed
 *    operation asks for a new attempt. Restoring remembered connections sends
 *    no notifications.
 *
 *  - No passwords reach a notifyee: NOTIFYADD has no password field.
 *    Providers receive the password for the duration of NPAddConnection*
 *    only, and should never log or keep it.
 *
 *  - No re-entrancy: a plugin must not call the WNet functions of mpr from a
 *    plugin entry point. WNetSetLastErrorW is the exception: a provider calls
 *    it to describe an error, then returns WN_EXTENDED_ERROR.
 *
 *  - Exports. mpr looks the entry points up by name with dlsym, so they must
 *    be visible in the shared object's dynamic symbol table. The prototypes
 *    below carry default visibility, so a definition that includes this
 *    header is exported even under -fvisibility=hidden.
 */
#ifndef MPR_NPAPI_H
#define MPR_NPAPI_H

#include "winnetwk.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define MPR_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define MPR_PLUGIN_EXPORT
#endif

/* ------------------------------------------------------------------------ */
/* NPGetCaps indices and values (WNNC_*)                                     */
/* ------------------------------------------------------------------------ */

#define WNNC_SPEC_VERSION               0x00000001 /* index: specification version */
#define WNNC_SPEC_VERSION51             0x00050001 /* the version providers report (5.1) */

#define WNNC_NET_TYPE                   0x00000002 /* index: network type (high word) */
#define WNNC_NET_NONE                   0x00000000
#define WNNC_NET_SMB                    0x00020000
#define WNNC_NET_DAV                    0x002E0000

#define WNNC_DRIVER_VERSION             0x00000003 /* index: provider version */

#define WNNC_USER                       0x00000004 /* index: user functions */
#define WNNC_USR_GETUSER                0x00000001

#define WNNC_CONNECTION                 0x00000006 /* index: connection functions */
#define WNNC_CON_ADDCONNECTION          0x00000001 /* NPAddConnection */
#define WNNC_CON_CANCELCONNECTION       0x00000002 /* NPCancelConnection */
#define WNNC_CON_GETCONNECTIONS         0x00000004 /* NPGetConnection */
#define WNNC_CON_ADDCONNECTION3         0x00000008 /* NPAddConnection3 */
#define WNNC_CON_ADDCONNECTION4         0x00000010 /* NPAddConnection4 */
#define WNNC_CON_CANCELCONNECTION2      0x00000020 /* NPCancelConnection2 */
#define WNNC_CON_GETPERFORMANCE         0x00000040 /* NPGetConnectionPerformance */
#define WNNC_CON_DEFER                  0x00000080 /* NPAddConnection3 knows CONNECT_DEFERRED */

#define WNNC_DIALOG                     0x00000008 /* index: dialog functions */
#define WNNC_ADMIN                      0x00000009 /* index: administrative functions */

#define WNNC_ENUMERATION                0x0000000B /* index: enumeration functions */
#define WNNC_ENUM_GLOBAL                0x00000001 /* RESOURCE_GLOBALNET */
#define WNNC_ENUM_LOCAL                 0x00000002 /* RESOURCE_CONNECTED */
#define WNNC_ENUM_CONTEXT               0x00000004 /* RESOURCE_CONTEXT */
#define WNNC_ENUM_SHAREABLE             0x00000008 /* shareable resources */

#define WNNC_START                      0x0000000C /* index: start state */
#define WNNC_WAIT_FOR_START             0x00000001

#define WNNC_CONNECTION_FLAGS           0x0000000D /* index: CONNECT_* flags NPAddConnection3 knows */
#define WNNC_CF_DEFAULT                 0x0000001C /* TEMPORARY | INTERACTIVE | PROMPT */
#define WNNC_CF_MAXIMUM                 0x00003C1C

/* NPGetConnection3 states. */
#define WNGETCON_CONNECTED              0x00000000
#define WNGETCON_DISCONNECTED           0x00000001

/* ------------------------------------------------------------------------ */
/* Connection notifications                                                  */
/* ------------------------------------------------------------------------ */

#define NOTIFY_PRE                      0x00000001 /* before the operation */
#define NOTIFY_POST                     0x00000002 /* after the operation */

/*
 * The phase, the status and the notifyee's own per-operation context.
 *   dwNotifyStatus     NOTIFY_PRE or NOTIFY_POST.
 *   dwOperationStatus  PRE: WN_SUCCESS, or WN_RETRY when the operation is
 *                      being attempted again. POST: the operation's result.
 *   lpContext          NULL on entry to PRE; whatever the notifyee left in it
 *                      comes back unchanged in POST. NULL means "no POST".
 */
typedef struct _NOTIFYINFO {
    DWORD dwNotifyStatus;
    DWORD dwOperationStatus;
    LPVOID lpContext;
} NOTIFYINFO, *LPNOTIFYINFO;

/*
 * An add operation. NetResource is always the UTF-16 NETRESOURCEW (a
 * decision of mpr: Windows declared it with the TCHAR-dependent name).
 *   hwndOwner     NULL unless the caller gave an owner.
 *   NetResource   the resource as requested; lpProvider is NULL or empty in
 *                 PRE when mpr will try the providers in order, and names the
 *                 provider that made the connection in a successful POST.
 *   dwAddFlags    the CONNECT_* flags of the request.
 */
typedef struct _NOTIFYADD {
    HWND hwndOwner;
    NETRESOURCEW NetResource;
    DWORD dwAddFlags;
} NOTIFYADD, *LPNOTIFYADD;

/*
 * A cancel operation.
 *   lpName      the local name or the remote name being cancelled.
 *   lpProvider  NULL in PRE; in a successful POST, the provider that cancelled.
 *   dwFlags     CONNECT_UPDATE_PROFILE (also forget it) or 0.
 *   fForce      nonzero: cancel even with open files.
 */
typedef struct _NOTIFYCANCEL {
    LPWSTR lpName;
    LPWSTR lpProvider;
    DWORD dwFlags;
    BOOL fForce;
} NOTIFYCANCEL, *LPNOTIFYCANCEL;

#if defined(MPR_STATIC_ASSERT) && (defined(__LP64__) || defined(_LP64))
MPR_STATIC_ASSERT(sizeof(NOTIFYINFO) == 16, "sizeof NOTIFYINFO");
MPR_STATIC_ASSERT(offsetof(NOTIFYINFO, dwNotifyStatus) == 0, "NOTIFYINFO.dwNotifyStatus");
MPR_STATIC_ASSERT(offsetof(NOTIFYINFO, dwOperationStatus) == 4, "NOTIFYINFO.dwOperationStatus");
MPR_STATIC_ASSERT(offsetof(NOTIFYINFO, lpContext) == 8, "NOTIFYINFO.lpContext");
MPR_STATIC_ASSERT(sizeof(NOTIFYADD) == 64, "sizeof NOTIFYADD");
MPR_STATIC_ASSERT(offsetof(NOTIFYADD, hwndOwner) == 0, "NOTIFYADD.hwndOwner");
MPR_STATIC_ASSERT(offsetof(NOTIFYADD, NetResource) == 8, "NOTIFYADD.NetResource");
MPR_STATIC_ASSERT(offsetof(NOTIFYADD, dwAddFlags) == 56, "NOTIFYADD.dwAddFlags");
MPR_STATIC_ASSERT(sizeof(NOTIFYCANCEL) == 24, "sizeof NOTIFYCANCEL");
MPR_STATIC_ASSERT(offsetof(NOTIFYCANCEL, lpName) == 0, "NOTIFYCANCEL.lpName");
MPR_STATIC_ASSERT(offsetof(NOTIFYCANCEL, lpProvider) == 8, "NOTIFYCANCEL.lpProvider");
MPR_STATIC_ASSERT(offsetof(NOTIFYCANCEL, dwFlags) == 16, "NOTIFYCANCEL.dwFlags");
MPR_STATIC_ASSERT(offsetof(NOTIFYCANCEL, fForce) == 20, "NOTIFYCANCEL.fForce");
#endif

/*
 * Exported by a notifyee library (at least one of the two). Return
 * WN_SUCCESS to let the operation go on; see the rules at the top of this
 * file for every other value.
 */
MPR_PLUGIN_EXPORT DWORD APIENTRY AddConnectNotify(LPNOTIFYINFO lpNotifyInfo,
                                                  LPNOTIFYADD lpAddInfo);
MPR_PLUGIN_EXPORT DWORD APIENTRY CancelConnectNotify(LPNOTIFYINFO lpNotifyInfo,
                                                     LPNOTIFYCANCEL lpCancelInfo);

typedef DWORD (APIENTRY *PF_AddConnectNotify)(LPNOTIFYINFO lpNotifyInfo,
                                              LPNOTIFYADD lpAddInfo);
typedef DWORD (APIENTRY *PF_CancelConnectNotify)(LPNOTIFYINFO lpNotifyInfo,
                                                 LPNOTIFYCANCEL lpCancelInfo);

/* ------------------------------------------------------------------------ */
/* Network provider entry points                                             */
/*                                                                           */
/* NPGetCaps is the one mandatory export: a library without it is not a      */
/* provider. The WNNC_CONNECTION bits it reports say which of the others     */
/* mpr will look up and call. A provider that does not own a name answers    */
/* WN_BAD_NETNAME (add) or WN_NOT_CONNECTED (cancel, get), and mpr moves on  */
/* to the next provider.                                                     */
/* ------------------------------------------------------------------------ */

/* A constant or bit mask for nIndex (WNNC_*); 0 for an unknown index. */
MPR_PLUGIN_EXPORT DWORD APIENTRY NPGetCaps(DWORD nIndex);

/* lpPassword: NULL = default, empty = none. lpUserName: NULL = current user. */
MPR_PLUGIN_EXPORT DWORD APIENTRY NPAddConnection(LPNETRESOURCEW lpNetResource,
                                                 LPWSTR lpPassword, LPWSTR lpUserName);
MPR_PLUGIN_EXPORT DWORD APIENTRY NPAddConnection3(HWND hwndOwner, LPNETRESOURCEW lpNetResource,
                                                  LPWSTR lpPassword, LPWSTR lpUserName,
                                                  DWORD dwFlags);

/* lpName: a local name or a remote name. Note the argument order of the 2 form. */
MPR_PLUGIN_EXPORT DWORD APIENTRY NPCancelConnection(LPWSTR lpName, BOOL fForce);
MPR_PLUGIN_EXPORT DWORD APIENTRY NPCancelConnection2(LPWSTR lpName, BOOL fForce,
                                                     DWORD dwFlags);

/*
 * *lpnBufferLen is in characters and includes the terminating NUL. When the
 * buffer is too small the provider stores the needed size there and returns
 * WN_MORE_DATA.
 */
MPR_PLUGIN_EXPORT DWORD APIENTRY NPGetConnection(LPWSTR lpLocalName, LPWSTR lpRemoteName,
                                                 LPDWORD lpnBufferLen);

typedef DWORD (APIENTRY *PF_NPGetCaps)(DWORD nIndex);
typedef DWORD (APIENTRY *PF_NPAddConnection)(LPNETRESOURCEW lpNetResource,
                                             LPWSTR lpPassword, LPWSTR lpUserName);
typedef DWORD (APIENTRY *PF_NPAddConnection3)(HWND hwndOwner, LPNETRESOURCEW lpNetResource,
                                              LPWSTR lpPassword, LPWSTR lpUserName,
                                              DWORD dwFlags);
typedef DWORD (APIENTRY *PF_NPCancelConnection)(LPWSTR lpName, BOOL fForce);
typedef DWORD (APIENTRY *PF_NPCancelConnection2)(LPWSTR lpName, BOOL fForce, DWORD dwFlags);
typedef DWORD (APIENTRY *PF_NPGetConnection)(LPWSTR lpLocalName, LPWSTR lpRemoteName,
                                             LPDWORD lpnBufferLen);

/* ------------------------------------------------------------------------ */
/* Services mpr exports to providers                                         */
/* ------------------------------------------------------------------------ */

/*
 * Record, for the calling thread, a provider-specific error code, a
 * description and the provider's name; the caller of the WNet function reads
 * them back with WNetGetLastError. A provider calls this and then returns
 * WN_EXTENDED_ERROR. The strings are copied before the call returns.
 *
 * These live in the router process (libmpr.so or the mpr program), not in
 * the plugin: a provider library leaves them undefined and the dynamic
 * linker binds them when mpr loads it.
 */
VOID APIENTRY WNetSetLastErrorW(DWORD err, LPWSTR lpError, LPWSTR lpProviders);
VOID APIENTRY WNetSetLastErrorA(DWORD err, LPSTR lpError, LPSTR lpProviders);

typedef VOID (APIENTRY *PF_WNetSetLastErrorW)(DWORD err, LPWSTR lpError, LPWSTR lpProviders);

#define WNetSetLastError WNetSetLastErrorW

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* MPR_NPAPI_H */
