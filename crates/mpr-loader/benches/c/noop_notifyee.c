/*
 * noop_notifyee.c - the cheapest complete connection notifyee, for the router
 * benchmark (crates/mpr-loader/benches/router.rs).
 *
 * In PRE it stores a non-NULL context, so the router owes it a POST; in
 * both phases it returns WN_SUCCESS and touches nothing else. The context
 * points at a static byte and is never dereferenced, so there is nothing to
 * free in POST.
 *
 * Build (the benchmark does this itself):
 *     cc -shared -fPIC -std=c11 -Wall -Wextra -Werror -I include \
 *        -o libnoop_notifyee.so crates/mpr-loader/benches/c/noop_notifyee.c
 */
#include "npapi.h"

static char context_token;

static DWORD noop(LPNOTIFYINFO lpNotifyInfo)
{
    if (lpNotifyInfo->dwNotifyStatus == NOTIFY_PRE) {
        lpNotifyInfo->lpContext = &context_token;
    }
    return WN_SUCCESS;
}

DWORD APIENTRY AddConnectNotify(LPNOTIFYINFO lpNotifyInfo, LPNOTIFYADD lpAddInfo)
{
    (void)lpAddInfo;
    return noop(lpNotifyInfo);
}

DWORD APIENTRY CancelConnectNotify(LPNOTIFYINFO lpNotifyInfo, LPNOTIFYCANCEL lpCancelInfo)
{
    (void)lpCancelInfo;
    return noop(lpNotifyInfo);
}
