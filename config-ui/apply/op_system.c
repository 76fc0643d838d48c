/* service, factory-reset, reboot, poweroff. */
#include "apply.h"

#include "fileio.h"
#include "root.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *const restartable[] = {"pullboxd", "lighttpd", "dropbear", "ntpd",
                                          "network",  "redis",    NULL};

static void restart_one(struct apply *a, const char *name, struct result *res)
{
    if (strcmp(name, "lighttpd") == 0) {
        /* the wizard runs under it: after the answer */
        a->later |= LATER_LIGHTTPD;
        step(res, true, "restart lighttpd", "in a second");
        return;
    }
    if (strcmp(name, "redis") == 0) {
        char path[PATH_MAX];
        root_path(path, sizeof(path), PATH_REDIS_CONF);
        if (access(path, F_OK) != 0) {
            /* it would put itself down again: sv would wait for nothing */
            step(res, true, "restart redis", "not a cluster hub: Redis stays down");
            return;
        }
    }
    service_sv(res, "restart", name);
}

void op_service(struct apply *a, const struct request *r, struct result *res)
{
    const char *name = request_get(r, "name", NULL), *action = request_get(r, "action", NULL);
    bool known = false;

    if (action && strcmp(action, "restart") != 0) {
        refuse(res, -1, "Service: the action is restart");
        return;
    }
    for (int i = 0; name && restartable[i]; i++)
        known |= strcmp(name, restartable[i]) == 0;
    if (name == NULL || (!known && strcmp(name, "all") != 0)) {
        refuse(res, -1, "Service: one of pullboxd, lighttpd, dropbear, ntpd, network, redis, or all");
        return;
    }
    if (strcmp(name, "all") == 0) {
        for (int i = 0; restartable[i]; i++)
            if (service_exists(restartable[i]) || root_is_system())
                restart_one(a, restartable[i], res);
    } else {
        restart_one(a, name, res);
    }
    if (res->ok)
        snprintf(res->message, sizeof(res->message), "Restarted.");
}

static bool have_program(const char *rel, struct result *res)
{
    char path[PATH_MAX];

    root_path(path, sizeof(path), rel);
    if (access(path, X_OK) == 0)
        return true;
    refuse(res, -1, "%s is missing", path);
    return false;
}

void op_factory_reset(struct apply *a, const struct request *r, struct result *res)
{
    const char *confirm = request_get(r, "confirm", NULL);
    char path[PATH_MAX], err[256], stamp[64];
    time_t now = (time_t)a->now;
    struct tm tm;

    if (confirm == NULL || strcmp(confirm, "yes") != 0) {
        refuse(res, -1, "Factory reset: confirm with yes");
        return;
    }
    if (!have_program("sbin/reboot", res))
        return;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ\n", &tm);
    root_path(path, sizeof(path), PATH_FACTORY_RESET);
    if (file_write_atomic(path, stamp, strlen(stamp), 0644, err, sizeof(err)) != 0) {
        step(res, false, "factory reset", "%s", err);
        return;
    }
    step(res, true, "factory reset", "the data partition is wiped on the next boot");
    a->later |= LATER_REBOOT;
    step(res, true, "reboot", "in a second");
    snprintf(res->message, sizeof(res->message),
             "The appliance restarts with its factory settings.");
}

static void power(struct apply *a, const char *prog, unsigned later, const char *what,
                  const char *message, struct result *res)
{
    if (!have_program(prog, res))
        return;
    a->later |= later;
    step(res, true, what, "in a second");
    snprintf(res->message, sizeof(res->message), "%s", message);
}

void op_reboot(struct apply *a, const struct request *r, struct result *res)
{
    (void)r;
    power(a, "sbin/reboot", LATER_REBOOT, "reboot", "The appliance restarts.", res);
}

void op_poweroff(struct apply *a, const struct request *r, struct result *res)
{
    (void)r;
    power(a, "sbin/poweroff", LATER_POWEROFF, "power off", "The appliance powers off.", res);
}
