/* The settings pages' common flow (see settings_form.h). */
#include "settings_form.h"

#include "form.h"
#include "html.h"
#include "layout.h"
#include "root.h"

#include <stdio.h>
#include <string.h>

int settings_form_load(struct settings_form *sf)
{
    char path[512];
    memset(sf, 0, sizeof(*sf));
    if (root_path(path, sizeof(path), PATH_SETTINGS) < 0 ||
        settings_load(&sf->st, path, sf->sys_err, sizeof(sf->sys_err)) < 0)
        return -1;
    return 0;
}

int settings_form_send(struct settings_form *sf)
{
    return settings_form_send_secret(sf, NULL, NULL);
}

int settings_form_send_secret(struct settings_form *sf, const char *key, const char *value)
{
    struct request rq;
    bool full = false;
    request_init(&rq, "settings");
    for (int i = 0; i < S__COUNT; i++)
        full |= request_add(&rq, setting_defs[i].key, sf->st.v[i], strlen(sf->st.v[i])) < 0;
    if (key && value && value[0])
        full |= request_add(&rq, key, value, strlen(value)) < 0;
    if (full) {
        request_free(&rq);
        snprintf(sf->sys_err, sizeof(sf->sys_err), "the request is too large");
        return -1;
    }
    int rc = spool_call(&rq, WIZ_APPLY_TIMEOUT, &sf->res, sf->sys_err, sizeof(sf->sys_err));
    request_free(&rq);
    if (rc < 0)
        return -1;
    sf->applied = true;
    if (!sf->res.ok && sf->res.field >= 0 && sf->res.field < S__COUNT)
        snprintf(sf->err[sf->res.field], SETTING_ERR_MAX, "%.*s", SETTING_ERR_MAX - 1,
                 sf->res.message);
    return 0;
}

/* Called by the settings pages for a POST that passed the CSRF check. Every
 * field is checked, not just up to the first error, so the admin sees all
 * that is wrong at once. */
bool settings_form_validate(struct settings_form *sf, const struct wiz *w,
                            const enum setting_id *ids, size_t n)
{
    bool bad = false;
    for (size_t i = 0; i < n; i++) {
        enum setting_id id = ids[i];
        const char *v = cgi_form_get(&w->form, setting_defs[id].key);
        if (!v) {
            snprintf(sf->err[id], SETTING_ERR_MAX, "%s: missing from the form",
                     setting_defs[id].label);
            bad = true;
            continue;
        }
        sf->shown[id] = v;
        if (settings_set(&sf->st, id, v, sf->err[id], SETTING_ERR_MAX) < 0)
            bad = true;
    }
    if (bad)
        return false;
    enum setting_id blame;
    char err[SETTING_ERR_MAX];
    if (settings_check(&sf->st, &blame, err, sizeof(err)) < 0) {
        snprintf(sf->err[blame], SETTING_ERR_MAX, "%s", err);
        return false;
    }
    return true;
}

int settings_form_submit(struct settings_form *sf, const struct wiz *w,
                         const enum setting_id *ids, size_t n)
{
    if (!settings_form_validate(sf, w, ids, n))
        return 0;
    if (settings_form_send(sf) < 0)
        return -1;
    if (sf->res.ok) /* show the stored, normalized values from now on */
        memset(sf->shown, 0, sizeof(sf->shown));
    return 1;
}

void settings_form_fields(const struct settings_form *sf, const enum setting_id *ids, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct setting_def *d = &setting_defs[ids[i]];
        const char *v = sf->shown[ids[i]] ? sf->shown[ids[i]] : sf->st.v[ids[i]];
        char help[320];
        snprintf(help, sizeof(help), "Accepted: %s.", d->accepted);
        if (d->kind == SK_CHOICE)
            form_select(d->key, d->label, d->choices, v, help, sf->err[ids[i]]);
        else
            form_input(d->kind == SK_INT ? "number" : "text", d->key, d->label, v, help,
                       sf->err[ids[i]]);
    }
}

void settings_form_outcome(const struct settings_form *sf, int submitted)
{
    if (sf->sys_err[0])
        layout_notice("error", sf->sys_err);
    else if (submitted == 0)
        layout_notice("error", "Nothing was changed: correct the fields marked below.");
    if (sf->applied)
        form_result(&sf->res);
}

int settings_form_handle(struct settings_form *sf, const struct wiz *w,
                         const enum setting_id *ids, size_t n)
{
    if (settings_form_load(sf) < 0 || !w->post)
        return -2;
    return settings_form_submit(sf, w, ids, n);
}

void settings_form_show(const struct settings_form *sf, const struct wiz *w, const char *action,
                        const enum setting_id *ids, size_t n, int submitted)
{
    settings_form_outcome(sf, submitted);
    form_begin(w, action, false);
    settings_form_fields(sf, ids, n);
    form_end("Save and apply");
}
