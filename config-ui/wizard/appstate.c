/* Settings and secrets for the pages (see appstate.h). */
#include "appstate.h"

#include "root.h"
#include "secrets.h"
#include "settings.h"

#include <stdio.h>
#include <string.h>

int appstate_load(struct settings *st, struct secrets *sec, char *err, size_t errlen)
{
    char path[512];
    if (st && (root_path(path, sizeof(path), PATH_SETTINGS) < 0 ||
               settings_load(st, path, err, errlen) < 0))
        return -1;
    if (sec && (root_path(path, sizeof(path), PATH_SECRETS) < 0 ||
                secrets_load(sec, path, err, errlen) < 0))
        return -1;
    return 0;
}

void appstate_publish_host(const struct settings *st, const char *server_addr, char *out,
                           size_t outlen)
{
    if (strcmp(st->v[S_NET_MODE], "static") == 0 && st->v[S_NET_ADDRESS][0]) {
        size_t n = strcspn(st->v[S_NET_ADDRESS], "/");
        snprintf(out, outlen, "%.*s", (int)n, st->v[S_NET_ADDRESS]);
    } else {
        snprintf(out, outlen, "%s", server_addr && *server_addr ? server_addr : "127.0.0.1");
    }
}
