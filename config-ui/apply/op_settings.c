/* settings, rotate-key (and the key expiry tick), claim, password. */
#include "apply.h"

#include "fileio.h"
#include "root.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SSH_KEYS_READ_MAX (64 * 1024)

/* true if the admin's authorized_keys holds at least one key line. Opened
 * without following a link (the folder is admin's) and read only as far as
 * the first key. */
static bool ssh_key_installed(void)
{
    char path[PATH_MAX], buf[4096];
    struct stat st;
    bool found = false, line_start = true;
    if (root_path(path, sizeof(path), PATH_AUTHORIZED_KEYS) != 0)
        return false;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return false;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return false;
    }
    ssize_t n;
    size_t total = 0;
    while (!found && total < SSH_KEYS_READ_MAX && (n = read(fd, buf, sizeof(buf))) > 0) {
        total += (size_t)n;
        for (ssize_t i = 0; i < n && !found; i++) {
            char c = buf[i];
            if (line_start && c != '\n' && c != '#' && c != ' ' && c != '\t' && c != '\r')
                found = true;
            line_start = c == '\n';
        }
    }
    close(fd);
    return found;
}

/* "cluster.hub-password" (a node's copy of the hub's Redis password) comes
 * with the settings but is a secret: it goes to secrets.conf, never to
 * settings.conf or a log. Empty or absent keeps the stored one; a node
 * cannot be without one. Returns 1 if sec changed, 0 if not, -1 refused. */
static int take_hub_password(const struct request *r, const struct settings *st,
                             struct secrets *sec, struct result *res)
{
    size_t len = 0;
    const char *pw = request_get(r, OP_SETTINGS_HUB_PASSWORD, &len);
    char err[128];

    if (pw && pw[0] != '\0') {
        if (strlen(pw) != len || secrets_check_redis_password(pw, err, sizeof(err)) != 0) {
            refuse(res, -1, "Hub password: %s", strlen(pw) != len ? "a NUL byte" : err);
            return -1;
        }
        if (strcmp(pw, sec->hub_password) != 0) {
            snprintf(sec->hub_password, sizeof(sec->hub_password), "%s", pw);
            return 1;
        }
    }
    if (strcmp(st->v[S_CLUSTER_ROLE], "node") == 0 && sec->hub_password[0] == '\0') {
        refuse(res, -1,
               "Hub password: a node needs the hub's Redis password (the hub's wizard or "
               "console shows it)");
        return -1;
    }
    return 0;
}

void op_settings(struct apply *a, const struct request *r, struct result *res)
{
    struct settings st, before;
    struct secrets sec;
    char err[SETTING_ERR_MAX], path[PATH_MAX];
    enum setting_id bad = S__COUNT;
    int new_secret;

    if (state_load(&st, &sec, res) != 0)
        return;
    before = st;
    /* every key given is validated again; keys not given keep their value */
    for (size_t i = 0; i < r->nargs; i++) {
        int id = setting_find(r->args[i].key);
        if (id < 0 && strcmp(r->args[i].key, OP_SETTINGS_HUB_PASSWORD) == 0)
            continue;
        if (id < 0) {
            refuse(res, -1, "unknown setting %.64s", r->args[i].key);
            return;
        }
        if (strlen(r->args[i].value) != r->args[i].len) {
            refuse(res, id, "%s: a NUL byte is not allowed", setting_defs[id].label);
            return;
        }
        if (settings_set(&st, (enum setting_id)id, r->args[i].value, err, sizeof(err)) != 0) {
            refuse(res, id, "%s", err);
            return;
        }
    }
    if (settings_check(&st, &bad, err, sizeof(err)) != 0) {
        refuse(res, (int)bad, "%s", err);
        return;
    }
    /* key-only without a key would leave SSH with no way in */
    if (strcmp(before.v[S_SSH_KEY_ONLY], "yes") != 0 &&
        settings_check_ssh_keys(&st, ssh_key_installed() ? 1 : 0, err, sizeof(err)) != 0) {
        refuse(res, S_SSH_KEY_ONLY, "%s", err);
        return;
    }
    if ((new_secret = take_hub_password(r, &st, &sec, res)) < 0)
        return;
    root_path(path, sizeof(path), PATH_SETTINGS);
    if (state_commit(a, &st, &sec, !settings_equal(&st, &before) || access(path, F_OK) != 0,
                     new_secret > 0, res) == 0 &&
        res->ok && res->message[0] == '\0')
        snprintf(res->message, sizeof(res->message), "Saved and applied.");
}

static long grace_period(const struct settings *st)
{
    return atol(st->v[S_KEY_GRACE_PERIOD]);
}

void op_rotate_key(struct apply *a, const struct request *r, struct result *res)
{
    struct settings st;
    struct secrets sec;

    (void)r;
    if (state_load(&st, &sec, res) != 0)
        return;
    if (secrets_rotate(&sec, a->now, grace_period(&st)) != 0) {
        refuse(res, -1, "no random bytes for a new key");
        return;
    }
    if (sec.signature_key_previous[0])
        step(res, true, "new signing key", "the previous key stays valid for %ld s",
             grace_period(&st));
    else
        step(res, true, "new signing key", "the previous key is no longer valid (no grace period)");
    if (state_commit(a, &st, &sec, false, true, res) == 0 && res->ok)
        snprintf(res->message, sizeof(res->message),
                 "New signing key in place: give it to the Bitrix site (signature_key).");
}

void keys_tick(struct apply *a)
{
    struct settings st;
    struct secrets sec;
    struct result res;
    char path[PATH_MAX], err[256];

    root_path(path, sizeof(path), PATH_SECRETS);
    if (secrets_load(&sec, path, err, sizeof(err)) != 0 || !secrets_expire_previous(&sec, a->now))
        return;
    memset(&res, 0, sizeof(res));
    res.ok = true;
    root_path(path, sizeof(path), PATH_SETTINGS);
    if (settings_load(&st, path, err, sizeof(err)) != 0)
        return;
    state_commit(a, &st, &sec, false, true, &res);
    apply_log("the previous signing key's grace period is over: it is no longer accepted (%s)",
              res.ok ? "ok" : "a step failed");
}

static int take_hash(const struct request *r, char *hash, struct result *res)
{
    const char *h = request_get(r, "admin-password-hash", NULL);
    char err[128];

    if (h == NULL || h[0] != '$' || strlen(h) < 20 || secrets_check_hash(h, err, 128) != 0) {
        refuse(res, -1, "admin-password-hash: a crypt(3) hash like $y$... is needed");
        return -1;
    }
    snprintf(hash, SECRET_HASH_MAX, "%s", h);
    return 0;
}

static void set_password(struct apply *a, const char *hash, struct result *res)
{
    struct settings st;
    struct secrets sec;
    char path[PATH_MAX], err[256];

    if (state_load(&st, &sec, res) != 0)
        return;
    snprintf(sec.admin_password_hash, sizeof(sec.admin_password_hash), "%s", hash);
    root_path(path, sizeof(path), PATH_SECRETS);
    if (secrets_save_owned(&sec, path, 0640, a->gid, err, sizeof(err)) != 0) {
        step(res, false, "save secrets", "%s", err);
        return;
    }
    step(res, true, "save secrets", "the admin's password hash");
    state_write_shadow(hash, a->now, res);
}

void op_claim(struct apply *a, const struct request *r, struct result *res)
{
    char hash[SECRET_HASH_MAX], path[PATH_MAX], err[256], stamp[64];
    time_t now = (time_t)a->now;
    struct tm tm;

    root_path(path, sizeof(path), PATH_CLAIMED);
    if (access(path, F_OK) == 0) {
        refuse(res, -1, "this appliance is already claimed (change the password instead)");
        return;
    }
    if (take_hash(r, hash, res) != 0)
        return;
    set_password(a, hash, res);
    if (!res->ok)
        return;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ\n", &tm);
    if (file_write_atomic(path, stamp, strlen(stamp), 0644, err, sizeof(err)) != 0) {
        step(res, false, "claim", "%s", err);
        return;
    }
    root_path(path, sizeof(path), PATH_SETUP_CODE);
    unlink(path);
    step(res, true, "claim", "claimed; the setup code is no longer valid");
    snprintf(res->message, sizeof(res->message), "The appliance is yours.");
}

void op_password(struct apply *a, const struct request *r, struct result *res)
{
    char hash[SECRET_HASH_MAX];

    if (take_hash(r, hash, res) != 0)
        return;
    set_password(a, hash, res);
    if (res->ok)
        snprintf(res->message, sizeof(res->message), "The admin's password is changed.");
}
