/* Update sources, names and status (see update.h). */
#include "update.h"

#include "spool.h"

#include <stdio.h>
#include <string.h>

const char *update_source_dir(const char *source)
{
    if (source == NULL)
        return NULL;
    if (strcmp(source, "upload") == 0)
        return PATH_UPDATE_UPLOAD;
    if (strcmp(source, "home") == 0)
        return PATH_UPDATE_HOME;
    if (strcmp(source, "data") == 0)
        return PATH_UPDATE_DATA;
    return NULL;
}

bool update_name_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n < 5 || n > UPDATE_NAME_MAX || strcmp(name + n - 4, ".pbu") != 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
            return false;
    }
    return true;
}

static void set_value(char *dst, size_t size, const char *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
            return;
    if (n >= size)
        n = size - 1;
    memcpy(dst, v, n);
    dst[n] = '\0';
}

int update_status_parse(const char *text, size_t len, struct update_status *st)
{
    struct {
        const char *key;
        char *dst;
        size_t size;
    } fields[] = {
        {"slot", st->slot, sizeof(st->slot)},
        {"version", st->version, sizeof(st->version)},
        {"other-slot", st->other_slot, sizeof(st->other_slot)},
        {"other-version", st->other_version, sizeof(st->other_version)},
        {"state", st->state, sizeof(st->state)},
        {"message", st->message, sizeof(st->message)},
    };
    int found = 0;
    memset(st, 0, sizeof(*st));
    for (const char *p = text, *end = text + len; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        const char *eq = memchr(p, '=', (size_t)(eol - p));
        for (size_t i = 0; eq && i < sizeof(fields) / sizeof(fields[0]); i++)
            if ((size_t)(eq - p) == strlen(fields[i].key) &&
                memcmp(p, fields[i].key, (size_t)(eq - p)) == 0) {
                set_value(fields[i].dst, fields[i].size, eq + 1, (size_t)(eol - eq - 1));
                found++;
            }
        p = nl ? nl + 1 : end;
    }
    return found;
}

const char *update_state_words(const char *state)
{
    if (strcmp(state, "committed") == 0)
        return "kept: this system passed its trial boot";
    if (strcmp(state, "trial") == 0)
        return "on trial: kept once pullboxd, the wizard and SSH are healthy";
    if (strcmp(state, "rolled-back") == 0)
        return "rolled back: the new system failed its trial boot, the previous one runs";
    return "unknown";
}

const char *update_result_step(const struct result *res, const char *what)
{
    for (size_t i = 0; i < res->nsteps; i++)
        if (strcmp(res->steps[i].what, what) == 0)
            return res->steps[i].detail;
    return "";
}
