/* Reading the current settings and secrets for an action, and showing a
 * pending change before the admin confirms it. */
#include <stdio.h>
#include <string.h>

#include "console.h"
#include "root.h"
#include "secrets.h"
#include "settings.h"
#include "status.h"

bool con_load(struct settings *st, struct secrets *sec)
{
    char path[4096], err[512];
    if (st) {
        if (root_path(path, sizeof path, PATH_SETTINGS) < 0 ||
            settings_load(st, path, err, sizeof err) < 0) {
            printf("Cannot read the settings: %s\n", err);
            return false;
        }
    }
    if (sec) {
        if (root_path(path, sizeof path, PATH_SECRETS) < 0 ||
            secrets_load(sec, path, err, sizeof err) < 0) {
            printf("Cannot read the secrets: %s\n", err);
            return false;
        }
    }
    return true;
}

int con_show_changes(const struct settings *old, const struct settings *now)
{
    int n = 0;
    for (int i = 0; i < S__COUNT; i++) {
        if (strcmp(old->v[i], now->v[i]) == 0)
            continue;
        if (n++ == 0)
            printf("\nThese settings will change:\n");
        printf("  %-28s %s -> %s\n", setting_defs[i].label, old->v[i][0] ? old->v[i] : "(empty)",
               now->v[i][0] ? now->v[i] : "(empty)");
    }
    if (n == 0)
        printf("Nothing changes.\n");
    return n;
}

bool con_review(const struct settings *old, const struct settings *now, bool extra,
                const char *question)
{
    enum setting_id bad;
    char err[SETTING_ERR_MAX];
    if (settings_check(now, &bad, err, sizeof err) < 0) {
        printf("%s\nNothing was changed.\n", err);
        return false;
    }
    if (con_show_changes(old, now) == 0 && !extra)
        return false;
    if (!con_confirm(question)) {
        printf("Nothing was changed.\n");
        return false;
    }
    return true;
}

void con_appliance_address(const struct settings *st, char *out, size_t outlen)
{
    if (strcmp(st->v[S_NET_MODE], "static") == 0 && st->v[S_NET_ADDRESS][0]) {
        snprintf(out, outlen, "%s", st->v[S_NET_ADDRESS]);
        char *slash = strchr(out, '/');
        if (slash)
            *slash = '\0';
        return;
    }
    static struct appliance_status as; /* large: kept off the stack */
    status_read(&as, CON_PUBLISH_PORT, 0.5);
    snprintf(out, outlen, "%s", as.address);
}
