/* pullbox-apply --seed ovf FILE | nocloud DIR: settings that came with the
 * VM, applied once at first boot (stage 1, before the setup code is made and
 * before any service runs).
 *
 * Every value goes through the operations the wizard's requests go
 * through (settings, ssh-key-add, claim), so it is validated by the same
 * code. A value that is refused is reported and skipped, and so is the rest
 * of its group (network.*, site.*, ...): a static address without its
 * gateway is never half-applied. Given the admin's password hash or an SSH
 * key, the appliance is claimed; otherwise it stays claimable with its
 * setup code. Prints one line per value and outcome; "skipped:" lines are
 * what was not applied. Exit 0 when everything given was applied, 1 when
 * something was skipped, 111 when the seed could not be read. */
#include "apply.h"

#include "fileio.h"
#include "root.h"
#include "seed.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int skipped;

static void report(const char *what, const struct result *res)
{
    if (res->ok) {
        printf("applied: %s\n", what);
        return;
    }
    skipped++;
    printf("skipped: %s: %s\n", what, res->message);
    for (size_t i = 0; i < res->nsteps; i++)
        if (!res->steps[i].ok)
            printf("skipped: %s: %s: %s\n", what, res->steps[i].what, res->steps[i].detail);
}

static void result_init(struct result *res)
{
    memset(res, 0, sizeof(*res));
    res->ok = true;
    res->field = -1;
}

/* "network.address" -> "network": the values that only make sense together */
static size_t group_len(const char *key)
{
    const char *dot = strchr(key, '.');
    return dot ? (size_t)(dot - key) : strlen(key);
}

static bool same_group(int a, int b)
{
    const char *ka = setting_defs[a].key, *kb = setting_defs[b].key;
    return group_len(ka) == group_len(kb) && strncmp(ka, kb, group_len(ka)) == 0;
}

static void drop_group(struct seed *s, bool *keep, int setting, const char *why)
{
    for (size_t i = 0; i < s->nitems; i++)
        if (keep[i] && s->items[i].what == SEED_SETTING &&
            same_group(s->items[i].setting, setting)) {
            keep[i] = false;
            skipped++;
            printf("skipped: %s = %s: %s\n", s->items[i].name, s->items[i].value, why);
        }
}

/* The settings: each value validated on its own, then the rules between
 * fields; a refusal drops the value's whole group. One settings request. */
static void apply_settings(struct apply *a, struct seed *s)
{
    struct settings st, try;
    struct secrets sec;
    struct result res;
    struct request r;
    char err[SETTING_ERR_MAX], why[SETTING_ERR_MAX + 64];
    bool keep[SEED_ITEMS_MAX];
    enum setting_id bad;
    size_t n = 0;

    result_init(&res);
    if (state_load(&st, &sec, &res) != 0) {
        report("settings", &res);
        return;
    }
    for (size_t i = 0; i < s->nitems; i++)
        keep[i] = s->items[i].what == SEED_SETTING;
    for (size_t i = 0; i < s->nitems; i++) {
        try = st;
        if (keep[i] && settings_set(&try, (enum setting_id)s->items[i].setting, s->items[i].value,
                                    err, sizeof(err)) != 0) {
            snprintf(why, sizeof(why), "%s (its group is skipped with it)", err);
            drop_group(s, keep, s->items[i].setting, why);
        }
    }
    for (int round = 0; round < S__COUNT; round++) {
        try = st;
        for (size_t i = 0; i < s->nitems; i++)
            if (keep[i])
                settings_set(&try, (enum setting_id)s->items[i].setting, s->items[i].value, err,
                             sizeof(err));
        if (settings_check(&try, &bad, err, sizeof(err)) == 0)
            break;
        snprintf(why, sizeof(why), "%s (its group is skipped with it)", err);
        bool dropped = false;
        for (size_t i = 0; i < s->nitems; i++)
            dropped |= keep[i] && same_group(s->items[i].setting, (int)bad);
        if (!dropped) {
            printf("skipped: the settings: %s\n", err);
            skipped++;
            return;
        }
        drop_group(s, keep, (int)bad, why);
    }
    request_init(&r, "settings");
    for (size_t i = 0; i < s->nitems; i++)
        if (keep[i]) {
            request_add(&r, setting_defs[s->items[i].setting].key, s->items[i].value,
                        strlen(s->items[i].value));
            n++;
        }
    if (n > 0) {
        op_settings(a, &r, &res);
        for (size_t i = 0; i < s->nitems; i++)
            if (keep[i] && res.ok)
                printf("applied: %s = %s\n", s->items[i].name, s->items[i].value);
        if (!res.ok)
            report("the settings", &res);
    }
    request_free(&r);
}

static void apply_signature_key(struct apply *a, const struct seed_item *it)
{
    struct settings st;
    struct secrets sec;
    struct result res;
    char err[256];

    result_init(&res);
    if (strcmp(it->value, SEED_SIGNATURE_GENERATE) == 0) {
        printf("applied: %s: this appliance made its own key\n", it->name);
        return;
    }
    if (secrets_check_key(it->value, err, sizeof(err)) != 0) {
        refuse(&res, -1, "%s", err);
    } else if (state_load(&st, &sec, &res) == 0) {
        snprintf(sec.signature_key, sizeof(sec.signature_key), "%s", it->value);
        state_commit(a, &st, &sec, false, true, &res);
    }
    report(it->name, &res);
}

static bool apply_one(struct apply *a, op_fn *fn, const char *op, const char *arg,
                      const struct seed_item *it)
{
    struct request r;
    struct result res;

    result_init(&res);
    request_init(&r, op);
    request_add(&r, arg, it->value, strlen(it->value));
    fn(a, &r, &res);
    request_free(&r);
    report(it->name, &res);
    return res.ok;
}

/* Claimed by SSH key alone: the admin logs in with the key, and may set a
 * password from the console. */
static void claim_by_key(void)
{
    char path[PATH_MAX], err[256], stamp[64];
    time_t now = time(NULL);
    struct tm tm;

    gmtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ\n", &tm);
    root_path(path, sizeof(path), PATH_CLAIMED);
    if (file_write_atomic(path, stamp, strlen(stamp), 0644, err, sizeof(err)) != 0) {
        printf("skipped: claim: %s\n", err);
        skipped++;
        return;
    }
    root_path(path, sizeof(path), PATH_SETUP_CODE);
    unlink(path);
    printf("applied: claimed by the admin's SSH key\n");
}

/* A seed file: a regular file, not a link (the medium is not ours: a link
 * could point at the appliance's own secrets). */
static long read_file(const char *path, char **text, char *err, size_t errlen)
{
    struct stat st;

    if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file: not read", path);
        return -1;
    }
    return file_read_all(path, SEED_FILE_MAX, text, err, errlen);
}

static int read_seed(struct seed *s, const char *kind, const char *where)
{
    char *text[3] = {NULL, NULL, NULL}, path[PATH_MAX], err[256];
    long len[3] = {0, 0, 0};
    static const char *const files[] = {"meta-data", "user-data", "network-config"};
    int rc;

    if (strcmp(kind, "ovf") == 0) {
        len[0] = read_file(where, &text[0], err, sizeof(err));
        if (len[0] < 0) {
            printf("skipped: %s\n", err);
            return -1;
        }
        rc = seed_parse_ovf(s, text[0], (size_t)len[0]);
        free(text[0]);
        return rc;
    }
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s/%s", where, files[i]);
        if (access(path, F_OK) != 0 && errno == ENOENT)
            continue;
        len[i] = read_file(path, &text[i], err, sizeof(err));
        if (len[i] < 0) {
            seed_note(s, "%s", err);
            text[i] = NULL;
        }
    }
    rc = seed_parse_nocloud(s, text[0], (size_t)len[0], text[1], (size_t)len[1], text[2],
                            (size_t)len[2]);
    for (int i = 0; i < 3; i++)
        free(text[i]);
    return rc;
}

int seed_main(int argc, char **argv)
{
    static struct seed s;
    struct apply a;
    const struct seed_item *hash = NULL;
    bool key_added = false;
    char path[PATH_MAX];

    if (argc != 2 || (strcmp(argv[0], "ovf") != 0 && strcmp(argv[0], "nocloud") != 0)) {
        fputs("usage: pullbox-apply --seed ovf FILE | nocloud DIR\n", stderr);
        return 100;
    }
    seed_init(&s);
    int rc = read_seed(&s, argv[0], argv[1]);
    for (size_t i = 0; i < s.nnotes; i++)
        printf("skipped: %s\n", s.notes[i]);
    if (rc != 0 && s.nitems == 0)
        return s.nnotes ? 1 : 111;
    apply_init(&a);
    a.first_boot = true;
    apply_settings(&a, &s);
    for (size_t i = 0; i < s.nitems; i++) {
        const struct seed_item *it = &s.items[i];
        if (it->what == SEED_SIGNATURE_KEY)
            apply_signature_key(&a, it);
        else if (it->what == SEED_SSH_KEY)
            key_added |= apply_one(&a, op_ssh_key_add, "ssh-key-add", "key", it);
        else if (it->what == SEED_ADMIN_HASH)
            hash = it;
    }
    root_path(path, sizeof(path), PATH_CLAIMED);
    if (hash && access(path, F_OK) != 0)
        apply_one(&a, op_claim, "claim", "admin-password-hash", hash);
    else if (hash)
        apply_one(&a, op_password, "password", "admin-password-hash", hash);
    if (access(path, F_OK) != 0 && key_added)
        claim_by_key();
    return skipped || s.nnotes ? 1 : 0;
}
