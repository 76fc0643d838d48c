/* A network change is on trial: the settings it replaced are kept in
 * PATH_NETWORK_ROLLBACK (spool encoding: deadline and the old network.*
 * values) until a network-confirm request arrives; past the deadline they
 * come back. The file survives a restart of the service or a reboot, so a
 * change that cut the admin off is undone whatever happened meanwhile. */
#include "apply.h"

#include "fileio.h"
#include "root.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const enum setting_id net_keys[] = {S_NET_MODE, S_NET_ADDRESS, S_NET_GATEWAY, S_NET_DNS};
#define NET_KEYS (sizeof(net_keys) / sizeof(net_keys[0]))

static int trial_read(struct request *r)
{
    char path[PATH_MAX], *data, err[256];
    long n;
    int rc;

    request_init(r, "");
    root_path(path, sizeof(path), PATH_NETWORK_ROLLBACK);
    n = file_read_all(path, 64 * 1024, &data, err, sizeof(err));
    if (n < 0)
        return -1;
    rc = request_decode(data, (size_t)n, r, err, sizeof(err));
    free(data);
    if (rc != 0)
        apply_log("%s is damaged (%s): removed", PATH_NETWORK_ROLLBACK, err);
    return rc;
}

int network_trial_start(struct apply *a, const struct settings *old, struct result *res)
{
    struct request r, prev;
    char path[PATH_MAX], err[256], num[32], *data;
    size_t len;
    int rc;

    /* a trial already running keeps the last confirmed settings */
    if (trial_read(&prev) == 0) {
        request_init(&r, "network-rollback");
        for (size_t i = 0; i < prev.nargs; i++)
            if (strcmp(prev.args[i].key, "deadline") != 0)
                request_add(&r, prev.args[i].key, prev.args[i].value, prev.args[i].len);
        request_free(&prev);
    } else {
        request_init(&r, "network-rollback");
        for (size_t i = 0; i < NET_KEYS; i++)
            request_add(&r, setting_defs[net_keys[i]].key, old->v[net_keys[i]],
                        strlen(old->v[net_keys[i]]));
    }
    snprintf(num, sizeof(num), "%lld", a->now + (long long)a->confirm_timeout);
    request_add(&r, "deadline", num, strlen(num));
    request_encode(&r, &data, &len);
    request_free(&r);
    root_path(path, sizeof(path), PATH_NETWORK_ROLLBACK);
    rc = file_write_atomic(path, data, len, 0600, err, sizeof(err));
    free(data);
    if (rc != 0) {
        step(res, false, "network trial", "%s", err);
        return -1;
    }
    step(res, true, "network trial",
         "confirm within %.0f s (network-confirm), or the previous network settings come back",
         a->confirm_timeout);
    snprintf(res->message, sizeof(res->message),
             "Applied. The new network settings are on trial: confirm within %.0f s or they are "
             "rolled back.",
             a->confirm_timeout);
    return 0;
}

void op_network_confirm(struct apply *a, const struct request *r, struct result *res)
{
    char path[PATH_MAX];

    (void)a;
    (void)r;
    root_path(path, sizeof(path), PATH_NETWORK_ROLLBACK);
    if (unlink(path) == 0)
        step(res, true, "network", "the new network settings are kept");
    else if (errno == ENOENT)
        step(res, true, "network", "no network change was waiting for confirmation");
    else
        step(res, false, "network", "cannot remove %s: %s", PATH_NETWORK_ROLLBACK, strerror(errno));
}

void network_tick(struct apply *a)
{
    struct request r;
    struct settings st;
    struct secrets sec;
    struct result res;
    char path[PATH_MAX], err[SETTING_ERR_MAX];
    const char *d;

    if (trial_read(&r) != 0) {
        /* missing: no trial; damaged: nothing to roll back to */
        root_path(path, sizeof(path), PATH_NETWORK_ROLLBACK);
        if (access(path, F_OK) == 0)
            unlink(path);
        request_free(&r);
        return;
    }
    d = request_get(&r, "deadline", NULL);
    if (d && atoll(d) > a->now) {
        request_free(&r);
        return;
    }
    /* the trial ends here, whatever the rollback meets */
    root_path(path, sizeof(path), PATH_NETWORK_ROLLBACK);
    unlink(path);
    memset(&res, 0, sizeof(res));
    res.ok = true;
    if (state_load(&st, &sec, &res) == 0) {
        for (size_t i = 0; i < NET_KEYS; i++) {
            const char *v = request_get(&r, setting_defs[net_keys[i]].key, NULL);
            if (v && settings_set(&st, net_keys[i], v, err, sizeof(err)) != 0)
                apply_log("rollback: %s", err);
        }
        a->rolling_back = true;
        state_commit(a, &st, &sec, true, false, &res);
    }
    request_free(&r);
    apply_log("network change not confirmed in time: the previous network settings are back "
              "(%s)",
              res.ok           ? "ok"
              : res.message[0] ? res.message
                               : "a step failed");
}
