/* /ssh: the SSH keys that may log in as admin, and whether SSH takes the
 * admin password or keys only. The keys belong to the admin account (its
 * authorized_keys, which this CGI's user cannot read): the apply service
 * lists, adds and removes them, and checks every key whole. The rules the
 * console applies apply here, from the same library (lib/sshkeys.h): a
 * pasted line must look like a key, "keys only" needs a key, and the last
 * key stays while SSH takes keys only, so no change locks the admin out. */
#include "form.h"
#include "groups.h"
#include "html.h"
#include "layout.h"
#include "reply.h"
#include "settings_form.h"
#include "spool.h"
#include "sshkeys.h"
#include "wizard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SSH_KEYS_FILE_MAX (SSHKEYS_MAX * 8193) /* the apply service's bound */
/* Seconds the list may take: every view of the page asks for it, and a
 * stopped apply service should not hold the page for the minute a change
 * may take. */
#define SSH_LIST_TIMEOUT 10.0

struct ssh_page {
    struct settings_form sf;
    struct sshkey_summary keys[SSHKEYS_MAX];
    int nkeys;                     /* -1: the list could not be read */
    char list_err[512];            /* why not */
    char key_err[SETTING_ERR_MAX]; /* why the pasted key was refused */
    char remove_err[SETTING_ERR_MAX];
    bool key_result; /* sf.res holds an add or remove answer */
};

/* Asks the apply service for authorized_keys (handed to this request
 * alone) and lists it. */
static void ssh_keys_load(struct ssh_page *p)
{
    struct request rq;
    struct result res;
    char id[64];
    unsigned char *data = NULL;
    size_t len = 0;

    p->nkeys = -1;
    request_init(&rq, "ssh-key-list");
    int rc = spool_submit(&rq, id, sizeof(id), p->list_err, sizeof(p->list_err));
    request_free(&rq);
    if (rc < 0 || spool_wait(id, SSH_LIST_TIMEOUT, &res, p->list_err, sizeof(p->list_err)) < 0)
        return;
    if (!res.ok) {
        snprintf(p->list_err, sizeof(p->list_err), "%s", res.message);
        return;
    }
    if (spool_take(id, "keys", SSH_KEYS_FILE_MAX, &data, &len, p->list_err, sizeof(p->list_err)) <
        0)
        return;
    p->nkeys = sshkeys_list((const char *)data, len, p->keys, SSHKEYS_MAX);
    if (p->nkeys > SSHKEYS_MAX)
        p->nkeys = SSHKEYS_MAX;
    free(data);
}

/* One argument to the apply service; its answer lands in sf.res. */
static int ssh_send(struct ssh_page *p, const char *op, const char *key, const char *value)
{
    struct request rq;
    request_init(&rq, op);
    request_add(&rq, key, value, strlen(value));
    int rc = spool_call(&rq, WIZ_APPLY_TIMEOUT, &p->sf.res, p->sf.sys_err, sizeof(p->sf.sys_err));
    request_free(&rq);
    if (rc < 0)
        return -1;
    p->sf.applied = true;
    p->key_result = true;
    return 1;
}

static int ssh_add(struct ssh_page *p, const struct wiz *w)
{
    const char *key = cgi_form_get(&w->form, "key");
    while (key && *key == ' ')
        key++;
    if (!key || !sshkeys_looks_like_key(key)) {
        snprintf(p->key_err, sizeof(p->key_err), "SSH key: " SSHKEYS_NOT_A_KEY);
        return 0;
    }
    int rc = ssh_send(p, "ssh-key-add", "key", key);
    if (rc == 1 && !p->sf.res.ok)
        snprintf(p->key_err, sizeof(p->key_err), "%.*s", SETTING_ERR_MAX - 1, p->sf.res.message);
    return rc;
}

static int ssh_remove(struct ssh_page *p, const struct wiz *w)
{
    const char *idx = cgi_form_get(&w->form, "index");
    char *end;
    long n = idx ? strtol(idx, &end, 10) : 0;
    const char *why = sshkeys_remove_refusal(&p->sf.st, p->nkeys);

    if (!idx || *end != '\0' || n < 1 || n > p->nkeys)
        why = "there is no such key in the list: reload the page";
    if (why) {
        snprintf(p->remove_err, sizeof(p->remove_err), "SSH key: %s", why);
        return 0;
    }
    return ssh_send(p, "ssh-key-remove", "index", idx);
}

/* The login switch: the group's settings, with "keys only" refused here
 * while there is no key (the apply service refuses it too). */
static int ssh_settings(struct ssh_page *p, const struct wiz *w)
{
    const struct setting_group *g = &setting_groups[G_SSH];
    bool was_key_only = strcmp(p->sf.st.v[S_SSH_KEY_ONLY], "yes") == 0;
    const char *why;

    if (!settings_form_validate(&p->sf, w, g->ids, g->n))
        return 0;
    if (!was_key_only && strcmp(p->sf.st.v[S_SSH_KEY_ONLY], "yes") == 0 && p->nkeys >= 0 &&
        (why = sshkeys_key_only_refusal(p->nkeys)) != NULL) {
        snprintf(p->sf.err[S_SSH_KEY_ONLY], SETTING_ERR_MAX, "%s: %s",
                 setting_defs[S_SSH_KEY_ONLY].label, why);
        return 0;
    }
    if (settings_form_send(&p->sf) < 0)
        return -1;
    if (p->sf.res.ok)
        memset(p->sf.shown, 0, sizeof(p->sf.shown));
    return 1;
}

static void ssh_keys_show(const struct ssh_page *p, const struct wiz *w)
{
    html_printf("<h2>SSH keys</h2>\n");
    if (p->nkeys < 0) {
        layout_notice("error", p->list_err);
    } else if (p->nkeys == 0) {
        html_printf("<p id=\"ssh-keys-none\">No SSH key may log in yet.</p>\n");
    } else {
        html_printf("<table class=\"values\" id=\"ssh-keys\">\n<thead><tr><th>#</th><th>Type</th>"
                    "<th>Key</th><th>Comment</th><th></th></tr></thead>\n<tbody>\n");
        for (int i = 0; i < p->nkeys; i++) {
            html_printf("<tr><td>%d</td><td>%s</td><td><code>%s...%s</code></td><td>%s</td><td>",
                        i + 1, p->keys[i].type, p->keys[i].start, p->keys[i].end,
                        p->keys[i].comment);
            html_printf("<form method=\"post\" action=\"/ssh\" class=\"inline\">"
                        "<input type=\"hidden\" name=\"csrf\" value=\"%s\">"
                        "<input type=\"hidden\" name=\"do\" value=\"remove\">"
                        "<input type=\"hidden\" name=\"index\" value=\"%d\">"
                        "<button type=\"submit\">Remove</button></form></td></tr>\n",
                        w->sess.csrf, i + 1);
        }
        html_printf("</tbody>\n</table>\n");
    }
    if (p->remove_err[0])
        html_printf(
            "<strong class=\"field-error\" id=\"remove-error\" role=\"alert\">%s</strong>\n",
            p->remove_err);
    form_begin(w, "/ssh", false);
    html_printf("<input type=\"hidden\" name=\"do\" value=\"add\">\n");
    form_input("text", "key", "Add a public key",
               p->key_err[0] ? cgi_form_get(&w->form, "key") : "",
               "One line of a public key file (id_ed25519.pub): its type, the key, an optional "
               "comment.",
               p->key_err);
    form_end("Add the key");
}

void page_ssh(struct wiz *w)
{
    static struct ssh_page p;
    const struct setting_group *g = &setting_groups[G_SSH];
    const char *what = w->post ? cgi_form_get(&w->form, "do") : NULL;
    int submitted = -2;

    memset(&p, 0, sizeof(p));
    if (settings_form_load(&p.sf) == 0) {
        ssh_keys_load(&p);
        if (w->post && what && strcmp(what, "add") == 0)
            submitted = ssh_add(&p, w);
        else if (w->post && what && strcmp(what, "remove") == 0)
            submitted = ssh_remove(&p, w);
        else if (w->post)
            submitted = ssh_settings(&p, w);
        if (submitted == 1 && p.key_result && p.sf.res.ok)
            ssh_keys_load(&p);
    }
    layout_begin(w, g->title);
    html_printf("<p>The <code>admin</code> account logs in over SSH (port 22) to the same "
                "maintenance menu as the console, with the password or with one of the keys "
                "below. Once a key is in place, SSH can refuse passwords altogether: then "
                "guessing the password over the network gets nowhere. The console on the "
                "appliance's screen always takes the password.</p>\n");
    if (p.key_result) {
        settings_form_outcome(&p.sf, submitted);
        p.sf.applied = false; /* shown: not again with the login form */
    } else if (submitted == 0 && (p.key_err[0] || p.remove_err[0])) {
        layout_notice("error", "Nothing was changed: see the message below.");
    }
    ssh_keys_show(&p, w);
    html_printf("<h2>Logins</h2>\n");
    if (p.key_result || p.key_err[0] || p.remove_err[0])
        settings_form_show(&p.sf, w, "/ssh", g->ids, g->n, -2);
    else
        settings_form_show(&p.sf, w, "/ssh", g->ids, g->n, submitted);
    layout_end();
    reply_send(submitted == 0 ? 400 : 200);
}
