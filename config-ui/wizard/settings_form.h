/* The settings pages' common flow: show the fields of some settings with
 * their current values; on POST validate every submitted field with
 * settings_set() (the one validator), apply nothing if any field fails, and
 * otherwise send the apply service one "settings" request with every key
 * and show what it did. */
#ifndef PULLBOX_WIZARD_SETTINGS_FORM_H
#define PULLBOX_WIZARD_SETTINGS_FORM_H

#include "settings.h"
#include "spool.h"
#include "wizard.h"

struct settings_form {
    struct settings st;                       /* current, then with the submitted values */
    char err[S__COUNT][SETTING_ERR_MAX];      /* per field: why it was refused */
    const char *shown[S__COUNT];              /* the value typed, shown back after an error */
    bool applied;                             /* res holds the apply service's answer */
    struct result res;
    char sys_err[512];                        /* settings unreadable, apply service silent */
};

/* Loads the current settings. 0, or -1 with sf->sys_err. */
int settings_form_load(struct settings_form *sf);

/* Validates the POSTed fields ids[0..n) into sf->st (settings_set per
 * field, then settings_check). true if all passed; else sf->err says why. */
bool settings_form_validate(struct settings_form *sf, const struct wiz *w,
                            const enum setting_id *ids, size_t n);

/* Handles a POST of the fields ids[0..n). Returns 1 when the request went
 * to the apply service (sf->res says how it went), 0 when a field was
 * refused (sf->err; nothing sent), -1 on a system error (sf->sys_err). */
int settings_form_submit(struct settings_form *sf, const struct wiz *w,
                         const enum setting_id *ids, size_t n);

/* Sends sf->st as one "settings" request. 0 or -1 (as above). */
int settings_form_send(struct settings_form *sf);
/* The same with one more argument key=value when value is not "" (a secret
 * that goes with the settings: OP_SETTINGS_HUB_PASSWORD). */
int settings_form_send_secret(struct settings_form *sf, const char *key, const char *value);

/* A settings page's request: loads the settings and, on a POST, submits
 * the fields ids[0..n). Returns what settings_form_submit returned, or -2
 * for a GET (or unreadable settings, then sf->sys_err says why). */
int settings_form_handle(struct settings_form *sf, const struct wiz *w,
                         const enum setting_id *ids, size_t n);

/* The outcome of the request, then the form of the fields ids[0..n) that
 * posts to action. */
void settings_form_show(const struct settings_form *sf, const struct wiz *w, const char *action,
                        const enum setting_id *ids, size_t n, int submitted);

/* The labelled fields ids[0..n) with help and errors. */
void settings_form_fields(const struct settings_form *sf, const enum setting_id *ids, size_t n);

/* The outcome box: the system error, the field errors' summary, or the
 * apply service's steps. */
void settings_form_outcome(const struct settings_form *sf, int submitted);

#endif
