/* /site: what the appliance needs to know about the Bitrix site: the
 * public name browsers use, the web servers allowed to publish, the queue
 * server version the site runs and its signature algorithm. */
#include "html.h"
#include "layout.h"
#include "reply.h"
#include "settings_form.h"
#include "wizard.h"

static const enum setting_id site_fields[] = {S_SITE_PUBLIC_NAME, S_SITE_PUBLISHERS,
                                              S_SITE_VERSION, S_SITE_SIGNATURE_ALGO};

void page_site(struct wiz *w)
{
    static struct settings_form sf;
    size_t n = sizeof(site_fields) / sizeof(site_fields[0]);
    int submitted = settings_form_handle(&sf, w, site_fields, n);
    layout_begin(w, "Bitrix site");
    html_printf("<p>Browsers and mobile apps subscribe to the public name on ports 8893 (http, "
                "ws) and 8894 (https, wss). Only the Bitrix web servers listed here may publish "
                "on port 8895. The version is the one chosen in the pull module's settings "
                "(\"Bitrix Push &amp; Pull server 2.0\" is version 4).</p>\n");
    settings_form_show(&sf, w, "/site", site_fields, n, submitted);
    layout_end();
    reply_send(submitted == 0 ? 400 : 200);
}
