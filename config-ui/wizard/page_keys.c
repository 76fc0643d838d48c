/* /keys: the signing key the Bitrix site and pullboxd share (signature_key
 * of CPullOptions). Shown with a copy button; a rotation makes a new key and
 * keeps the old one valid for the grace period, so that clients holding
 * channels signed with it do not all fail at once. */
#include "appstate.h"
#include "form.h"
#include "groups.h"
#include "html.h"
#include "layout.h"
#include "reply.h"
#include "secrets.h"
#include "settings_form.h"
#include "spool.h"
#include "wizard.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define keys_fields (setting_groups[G_KEY].ids)
#define KEYS_NFIELDS (setting_groups[G_KEY].n)

/* POST /keys: changed settings (the grace period) are saved first (one settings
 * request), then the rotation is asked for. */
static int keys_rotate(struct wiz *w, struct settings_form *sf, struct result *rot)
{
    static struct settings before;
    before = sf->st;
    if (!settings_form_validate(sf, w, keys_fields, KEYS_NFIELDS))
        return 0;
    if (!settings_equal(&before, &sf->st)) {
        if (settings_form_send(sf) < 0)
            return -1;
        if (!sf->res.ok)
            return 1;
    }
    struct request rq;
    request_init(&rq, "rotate-key");
    int sent = spool_call(&rq, WIZ_APPLY_TIMEOUT, rot, sf->sys_err, sizeof(sf->sys_err));
    request_free(&rq);
    return sent < 0 ? -1 : 2;
}

void page_keys(struct wiz *w)
{
    static struct settings_form sf;
    struct result rot;
    int submitted = -2;
    if (settings_form_load(&sf) == 0 && w->post)
        submitted = keys_rotate(w, &sf, &rot);

    struct secrets sec;
    char err[256];
    layout_begin(w, setting_groups[G_KEY].title);
    html_printf("<p>The Bitrix site signs channel names with this key and the queue server "
                "checks them. It is the <em>signature key</em> of the pull module's settings; "
                "the <a href=\"/bitrix\">Bitrix settings</a> page shows it in place.</p>\n");
    settings_form_outcome(&sf, submitted == 2 ? 1 : submitted);
    if (submitted == 2)
        form_result(&rot);
    if (appstate_load(NULL, &sec, err, sizeof(err)) < 0) {
        layout_notice("error", err);
    } else {
        form_secret_value("key-current", "Current key", sec.signature_key);
        if (sec.signature_key_previous[0] && sec.previous_until > w->now) {
            char until[64];
            time_t t = (time_t)sec.previous_until;
            strftime(until, sizeof(until), "%Y-%m-%d %H:%M UTC", gmtime(&t));
            form_secret_value("key-previous", "Previous key", sec.signature_key_previous);
            html_printf("<p class=\"help\">The previous key is still accepted until %s.</p>\n",
                        until);
        }
        memset(&sec, 0, sizeof(sec));
    }
    html_printf("<h2>Rotate the key</h2>\n<p>After a rotation, enter the new key in the pull "
                "module's settings. Until the grace period ends the old key keeps working.</p>\n");
    form_begin(w, "/keys", false);
    settings_form_fields(&sf, keys_fields, KEYS_NFIELDS);
    form_end("Rotate the signing key");
    layout_end();
    reply_send(submitted == 0 ? 400 : 200);
}
