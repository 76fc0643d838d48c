/* /firewall: who may reach the subscriber ports (8893, 8894) and the admin
 * ports (22, 80, 443), and the per-source limits on both; 8895 is always
 * limited to the Bitrix web servers of the site page. Shows the iptables
 * rules these settings give. */
#include "groups.h"
#include "html.h"
#include "layout.h"
#include "render.h"
#include "reply.h"
#include "settings_form.h"
#include "wizard.h"

void page_firewall(struct wiz *w)
{
    static struct settings_form sf;
    const struct setting_group *g = &setting_groups[G_FIREWALL];
    int submitted = settings_form_handle(&sf, w, g->ids, g->n);
    layout_begin(w, g->title);
    html_printf("<p>Port 8895 (publishing) is open only to the Bitrix web servers named on the "
                "<a href=\"/site\">Bitrix site</a> page. Write <code>any</code> to open a port "
                "group to everyone, or list addresses and networks such as "
                "<code>192.0.2.0/24 2001:db8::/32</code>. The limits count per source "
                "address (per /64 for IPv6): a whole office behind one NAT is one "
                "source.</p>\n");
    settings_form_show(&sf, w, "/firewall", g->ids, g->n, submitted);

    struct render_buf rules = {0};
    char err[256];
    html_printf("<h2>The rules in force</h2>\n");
    if (render_firewall_rules(&sf.st, &rules, err, sizeof(err)) == 0) {
        html_printf("<p>What <code>iptables-restore</code> and <code>ip6tables-restore</code> "
                    "load for these settings:</p>\n<pre class=\"code\" id=\"rules\">");
        html_escape_n(rules.data, rules.len);
        html_printf("</pre>\n");
    } else {
        layout_notice("error", err);
    }
    render_buf_free(&rules);
    layout_end();
    reply_send(submitted == 0 ? 400 : 200);
}
