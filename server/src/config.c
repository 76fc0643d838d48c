#include "first.h"

#include "config.h"
#include "config_table.h"
#include "log.h"
#include "redis_conn.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *field(struct config *cfg, const struct config_opt *o)
{
    return (char *)cfg + o->offset;
}

static int set_value(struct config *cfg, const struct config_opt *o, const char *v, char *err,
                     size_t errlen)
{
    switch (o->type) {
    case CONFIG_OPT_STR:
    case CONFIG_OPT_PATH: {
        if (o->type == CONFIG_OPT_PATH && (v[0] != '/' || strchr(v, '?') || strchr(v, ' '))) {
            snprintf(err, errlen, "%s: \"%s\" is not an absolute URL path", o->name, v);
            return -1;
        }
        char **s = field(cfg, o);
        free(*s);
        *s = xstrdup(v);
        return 0;
    }
    case CONFIG_OPT_INT: {
        errno = 0;
        char *end;
        long n = strtol(v, &end, 10);
        if (errno || end == v || *end || n < o->min || n > o->max) {
            snprintf(err, errlen, "%s: \"%s\" is not an integer from %ld to %ld", o->name, v,
                     o->min, o->max);
            return -1;
        }
        *(long *)field(cfg, o) = n;
        return 0;
    }
    case CONFIG_OPT_ENUM:
        for (int i = 0; o->names[i]; i++) {
            if (strcmp(v, o->names[i]) == 0) {
                *(int *)field(cfg, o) = i;
                return 0;
            }
        }
        char accepted[128] = "";
        for (int i = 0; o->names[i]; i++) {
            strncat(accepted, i ? ", " : "", sizeof accepted - strlen(accepted) - 1);
            strncat(accepted, o->names[i], sizeof accepted - strlen(accepted) - 1);
        }
        snprintf(err, errlen, "%s: \"%s\" is not one of %s", o->name, v, accepted);
        return -1;
    }
    return -1;
}

void config_defaults(struct config *cfg)
{
    size_t n_opts;
    const struct config_opt *options = config_opts(&n_opts);
    memset(cfg, 0, sizeof *cfg);
    char err[256];
    for (size_t i = 0; i < n_opts; i++) {
        if (set_value(cfg, &options[i], options[i].def, err, sizeof err) != 0)
            abort(); /* the table itself is wrong */
    }
}

void config_free(struct config *cfg)
{
    size_t n_opts;
    const struct config_opt *options = config_opts(&n_opts);
    for (size_t i = 0; i < n_opts; i++) {
        if (options[i].type == CONFIG_OPT_STR || options[i].type == CONFIG_OPT_PATH) {
            char **s = field(cfg, &options[i]);
            free(*s);
            *s = NULL;
        }
    }
}

void config_dup(struct config *dst, const struct config *src)
{
    size_t n_opts;
    const struct config_opt *options = config_opts(&n_opts);
    *dst = *src;
    for (size_t i = 0; i < n_opts; i++) {
        if (options[i].type == CONFIG_OPT_STR || options[i].type == CONFIG_OPT_PATH) {
            char **s = field(dst, &options[i]);
            *s = xstrdup(*s ? *s : "");
        }
    }
}

#define CONFIG_MAX_LINE 4094 /* bytes before the line break */

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    char *e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
        *--e = '\0';
    return s;
}

int config_load(const char *path, struct config *cfg, char *err, size_t errlen)
{
    config_defaults(cfg);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        config_free(cfg);
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int lineno = 0;
    char why[512];
    while ((n = getline(&line, &cap, f)) >= 0) {
        lineno++;
        if ((size_t)n - (line[n - 1] == '\n') > CONFIG_MAX_LINE) {
            snprintf(err, errlen, "%s:%d: line longer than %d bytes", path, lineno,
                     CONFIG_MAX_LINE);
            goto fail;
        }
        /* a C string would end there and drop the rest of the line unseen */
        if (memchr(line, '\0', (size_t)n)) {
            snprintf(err, errlen, "%s:%d: a NUL byte (not a text file?)", path, lineno);
            goto fail;
        }
        char *s = trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(err, errlen, "%s:%d: expected \"key = value\"", path, lineno);
            goto fail;
        }
        *eq = '\0';
        char *key = trim(s), *val = trim(eq + 1);
        const struct config_opt *o = config_opt_find(key);
        if (!o) {
            snprintf(err, errlen, "%s:%d: unknown key \"%s\"", path, lineno, key);
            goto fail;
        }
        if (set_value(cfg, o, val, why, sizeof why) != 0) {
            snprintf(err, errlen, "%s:%d: %s", path, lineno, why);
            goto fail;
        }
    }
    free(line);
    fclose(f);
    return config_validate(cfg, err, errlen) == 0 ? 0 : (config_free(cfg), -1);
fail:
    free(line);
    fclose(f);
    config_free(cfg);
    return -1;
}

int config_validate(const struct config *cfg, char *err, size_t errlen)
{
    if (strlen(cfg->signature_key) < 16) {
        snprintf(err, errlen,
                 "signature-key: must be set to a secret of at least 16 characters "
                 "(pullboxd --print-config writes a config with a generated key)");
        return -1;
    }
    if (cfg->catchup_per_channel > cfg->history_length && cfg->history_length > 0) {
        /* not an error: catch-up simply cannot return more than is kept */
    }
    if (strcmp(cfg->journal_sync_str, "always") == 0) {
        ((struct config *)cfg)->journal_sync = 0;
    } else {
        char *end;
        long ms = strtol(cfg->journal_sync_str, &end, 10);
        if (end == cfg->journal_sync_str || *end || ms < 1 || ms > 10000) {
            snprintf(err, errlen,
                     "journal-sync: \"%s\" is not \"always\" or an integer from 1 to 10000 (ms)",
                     cfg->journal_sync_str);
            return -1;
        }
        ((struct config *)cfg)->journal_sync = ms;
    }
    if (cfg->redis_user[0] && !cfg->redis_password[0]) {
        snprintf(err, errlen, "redis-user: needs redis-password (an ACL user logs in with both)");
        return -1;
    }
    if (redis_tls_check(cfg->redis[0] && cfg->redis_tls, cfg->redis_tls_ca,
                        cfg->redis_tls_fingerprint, cfg->redis, err, errlen) != 0)
        return -1;
    if (cfg->redis[0]) {
        struct redis_addr a;
        if (redis_addr_parse(cfg->redis, &a, err, errlen) != 0)
            return -1;
        if (cfg->journal_path[0]) {
            snprintf(err, errlen,
                     "journal-path and redis: set one (with redis, Redis keeps the "
                     "history)");
            return -1;
        }
    }
    for (const char *p = cfg->node_name; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '-' || *p == '_') ||
            p - cfg->node_name >= 64) {
            snprintf(err, errlen, "node-name: \"%s\": at most 64 letters, digits, '.', '-', '_'",
                     cfg->node_name);
            return -1;
        }
    }
    if (cfg->signature_key_previous[0] && strlen(cfg->signature_key_previous) < 16) {
        snprintf(err, errlen, "signature-key-previous: must be empty or at least 16 characters");
        return -1;
    }
    return 0;
}

void config_keep_restart_only(struct config *next, struct config *running,
                              void (*changed)(const char *key))
{
    size_t n_opts;
    const struct config_opt *options = config_opts(&n_opts);
    for (size_t i = 0; i < n_opts; i++) {
        const struct config_opt *o = &options[i];
        if (!(o->flags & CONFIG_OPT_RESTART))
            continue;
        void *a = field(next, o), *b = field(running, o);
        bool differ;
        if (o->type == CONFIG_OPT_STR || o->type == CONFIG_OPT_PATH) {
            char **x = a, **y = b, *t = *x;
            differ = strcmp(*x, *y) != 0;
            *x = *y; /* the running string moves over: pointers into it stay valid */
            *y = t;
        } else if (o->type == CONFIG_OPT_INT) {
            differ = *(long *)a != *(long *)b;
            *(long *)a = *(long *)b;
        } else {
            differ = *(int *)a != *(int *)b;
            *(int *)a = *(int *)b;
        }
        if (differ && changed)
            changed(o->name);
    }
    /* derived from journal-sync, which is read at start only */
    next->journal_sync = running->journal_sync;
}

void config_print(FILE *out, const char *key_override)
{
    size_t n_opts;
    const struct config_opt *options = config_opts(&n_opts);
    fprintf(out, "# pullbox.conf: the queue server's settings. `key = value`, '#' comments.\n"
                 "# SIGHUP reloads every key but those marked \"read at start only\".\n");
    for (size_t i = 0; i < n_opts; i++) {
        const struct config_opt *o = &options[i];
        fputs("\n", out);
        const char *h = o->help;
        while (*h) {
            const char *nl = strchr(h, '\n');
            size_t n = nl ? (size_t)(nl - h) : strlen(h);
            fprintf(out, "# %.*s\n", (int)n, h);
            h += n + (nl ? 1 : 0);
        }
        if (o->flags & CONFIG_OPT_RESTART)
            fputs("# Read at start only: a reload (SIGHUP) keeps the running value.\n", out);
        const char *v = o->def;
        if (key_override && strcmp(o->name, "signature-key") == 0)
            v = key_override;
        fprintf(out, "%s = %s\n", o->name, v);
    }
}
