/* Loading and committing the appliance's state: settings, secrets, the
 * rendered files, the shadow file. */
#include "apply.h"

#include "fileio.h"
#include "root.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHADOW_MAX (64 * 1024)

int state_load(struct settings *st, struct secrets *sec, struct result *res)
{
    char path[PATH_MAX], err[512];

    root_path(path, sizeof(path), PATH_SETTINGS);
    if (settings_load(st, path, err, sizeof(err)) != 0) {
        refuse(res, -1, "the current settings cannot be read: %s", err);
        return -1;
    }
    root_path(path, sizeof(path), PATH_SECRETS);
    if (secrets_load(sec, path, err, sizeof(err)) != 0) {
        refuse(res, -1, "the current secrets cannot be read: %s", err);
        return -1;
    }
    return 0;
}

static const char *changed_list(const bool changed[RF__COUNT], char *buf, size_t len)
{
    size_t n = 0;

    buf[0] = '\0';
    for (int f = 0; f < RF__COUNT; f++)
        if (changed[f]) {
            const char *p = render_file_path((enum render_file)f);
            const char *base = strrchr(p, '/');
            n += (size_t)snprintf(buf + n, n < len ? len - n : 0, "%s%s", n ? ", " : "",
                                  base ? base + 1 : p);
        }
    return n ? buf : "nothing changed";
}

int state_cluster_secrets(const struct settings *st, struct secrets *sec)
{
    if (strcmp(st->v[S_CLUSTER_ROLE], "hub") != 0 || sec->redis_password[0] != '\0')
        return 0;
    return secrets_new_key(sec->redis_password) == 0 ? 1 : -1;
}

int state_commit(struct apply *a, const struct settings *st, const struct secrets *sec_in,
                 bool write_settings, bool write_secrets, struct result *res)
{
    char path[PATH_MAX], err[512], list[256], *conf_before = NULL;
    struct settings old;
    struct secrets sec_buf = *sec_in, *sec = &sec_buf;
    bool changed[RF__COUNT];
    int made;

    root_path(path, sizeof(path), PATH_SETTINGS);
    if (settings_load(&old, path, err, sizeof(err)) != 0)
        old = *st;
    if (write_settings) {
        if (settings_save_owned(st, path, 0640, a->gid, err, sizeof(err)) != 0) {
            step(res, false, "save settings", "%s", err);
            return -1;
        }
        step(res, true, "save settings", "%s", PATH_SETTINGS);
    }
    made = state_cluster_secrets(st, sec);
    if (made < 0) {
        step(res, false, "cluster", "no random bytes for the hub's Redis password");
        return -1;
    }
    if (made > 0) {
        step(res, true, "cluster", "a new Redis password for this hub (give it to the nodes)");
        write_secrets = true;
    }
    made = hub_tls_ensure(st, err, sizeof(err));
    if (made < 0) {
        step(res, false, "cluster", "the hub's Redis certificate: %s", err);
        return -1;
    }
    if (made > 0)
        step(res, true, "cluster", "a CA and a Redis certificate for this hub (give its "
                                   "fingerprint to the nodes)");
    if (write_secrets) {
        root_path(path, sizeof(path), PATH_SECRETS);
        if (secrets_save_owned(sec, path, 0640, a->gid, err, sizeof(err)) != 0) {
            step(res, false, "save secrets", "%s", err);
            return -1;
        }
        step(res, true, "save secrets", "%s", PATH_SECRETS);
    }
    root_path(path, sizeof(path), PATH_PULLBOX_CONF);
    if (file_read_all(path, 1024 * 1024, &conf_before, err, sizeof(err)) < 0)
        conf_before = NULL;
    if (render_all(st, sec, a->now, changed, err, sizeof(err)) != 0) {
        free(conf_before);
        step(res, false, "render", "%s", err);
        return -1;
    }
    if (changed[RF_PULLBOX]) {
        char *conf_after = NULL;
        if (file_read_all(path, 1024 * 1024, &conf_after, err, sizeof(err)) >= 0)
            a->restart_pullboxd = render_pullbox_needs_restart(conf_before, conf_after);
        free(conf_after);
    }
    free(conf_before);
    step(res, true, "render", "%s", changed_list(changed, list, sizeof(list)));
    if (changed[RF_NETWORK] && !a->rolling_back && !a->first_boot &&
        network_trial_start(a, &old, res) != 0)
        return -1;
    service_follow(a, changed, res);
    return 0;
}

/* admin:<hash>:<days since 1970>:... ; the other lines as they were. */
int state_write_shadow(const char *hash, long long now, struct result *res)
{
    char path[PATH_MAX], err[512], *old = NULL, *out;
    long n;
    size_t len = 0, cap;
    bool found = false;

    root_path(path, sizeof(path), PATH_SHADOW);
    n = file_read_all(path, SHADOW_MAX, &old, err, sizeof(err));
    if (n < 0 && errno != ENOENT) {
        step(res, false, "shadow", "%s", err);
        return -1;
    }
    if (n < 0)
        n = 0;
    cap = (size_t)n + strlen(hash) + 128;
    out = malloc(cap);
    if (out == NULL)
        abort();
    for (const char *p = old; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t l = nl ? (size_t)(nl - p) : strlen(p);
        if (l >= 6 && strncmp(p, "admin:", 6) == 0) {
            /* keep the aging fields after the third one */
            const char *rest = memchr(p + 6, ':', l - 6);
            const char *rest2 = rest ? memchr(rest + 1, ':', (size_t)(p + l - rest - 1)) : NULL;
            len += (size_t)snprintf(out + len, cap - len, "admin:%s:%lld%.*s\n", hash, now / 86400,
                                    rest2 ? (int)(p + l - rest2) : 0, rest2 ? rest2 : "");
            if (!rest2)
                len += (size_t)snprintf(out + len - 1, cap - len + 1, ":0:99999:7:::\n") - 1;
            found = true;
        } else {
            memcpy(out + len, p, l);
            len += l;
            out[len++] = '\n';
        }
        p += l + (nl ? 1 : 0);
    }
    if (!found)
        len += (size_t)snprintf(out + len, cap - len, "admin:%s:%lld:0:99999:7:::\n", hash,
                                now / 86400);
    free(old);
    if (file_write_atomic(path, out, len, 0600, err, sizeof(err)) != 0) {
        free(out);
        step(res, false, "shadow", "%s", err);
        return -1;
    }
    free(out);
    step(res, true, "shadow", "the admin's password is set for login and SSH");
    return 0;
}
