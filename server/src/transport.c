/* The table of subscriber transports, and which one a request asks for. */
#include "first.h"

#include "transport.h"
#include "config.h"
#include "http1.h"

#include <string.h>

/* In gauge order: /server-stat/ and /metrics list them so. */
const struct transport_ops *const transports[] = {
    &transport_websocket,
    &transport_longpoll,
    &transport_eventsource,
};
const unsigned n_transports = sizeof transports / sizeof transports[0];

_Static_assert(sizeof transports / sizeof transports[0] <= TRANSPORT_MAX,
               "raise TRANSPORT_MAX: it sizes the per-transport gauges");

static bool on_path(const struct http1_request *req, const char *prefix)
{
    /* routes match by prefix, as Push server 1.0/2.0 do: "/bitrix/sub/x" is long polling */
    size_t n = strlen(prefix);
    return req->path_len >= n && memcmp(req->path, prefix, n) == 0;
}

/* Any transport's path takes the request; the first transport that claims
 * it serves it, and the one that claims nothing takes the rest. */
const struct transport_ops *transport_for(const struct config *cfg, const struct http1_request *req)
{
    bool own[TRANSPORT_MAX], any = false;
    for (unsigned i = 0; i < n_transports; i++)
        any |= own[i] = on_path(req, transports[i]->path(cfg));
    if (!any)
        return NULL;
    const struct transport_ops *fallback = NULL;
    for (unsigned i = 0; i < n_transports; i++) {
        const struct transport_ops *tp = transports[i];
        if (!tp->claims)
            fallback = tp;
        else if (tp->claims(req, own[i]))
            return tp;
    }
    return fallback;
}
