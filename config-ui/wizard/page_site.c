/* /site: what the appliance needs to know about the Bitrix site: the
 * public name browsers use, the web servers allowed to publish, the queue
 * server version the site runs and its signature algorithm. */
#include "groups.h"
#include "html.h"
#include "layout.h"
#include "reply.h"
#include "settings_form.h"
#include "wizard.h"

void page_site(struct wiz *w)
{
    static struct settings_form sf;
    const struct setting_group *g = &setting_groups[G_SITE];
    int submitted = settings_form_handle(&sf, w, g->ids, g->n);
    layout_begin(w, g->title);
    html_printf("<p>Browsers and mobile apps subscribe to the public name on ports 8893 (http, "
                "ws) and 8894 (https, wss). Only the Bitrix web servers listed here may publish "
                "on port 8895. The version is the one chosen in the pull module's settings "
                "(\"Bitrix Push &amp; Pull server 2.0\" is version 4).</p>\n");
    settings_form_show(&sf, w, "/site", g->ids, g->n, submitted);
    layout_end();
    reply_send(submitted == 0 ? 400 : 200);
}
