/* /network: host name, DHCP or a static address, gateway, DNS and NTP
 * servers. A change of the network file is put on trial by the apply
 * service: the admin confirms it from the new address within its time
 * (/network/confirm), or the previous settings come back on their own. */
#include "form.h"
#include "groups.h"
#include "html.h"
#include "layout.h"
#include "reply.h"
#include "settings_form.h"
#include "spool.h"
#include "wizard.h"

#include <stdio.h>
#include <string.h>

#define network_fields (setting_groups[G_NETWORK].ids)
#define NETWORK_NFIELDS (setting_groups[G_NETWORK].n)

/* The apply service's step "network trial" says "confirm within N s". */
static long trial_seconds(const struct result *res)
{
    for (size_t i = 0; i < res->nsteps; i++) {
        long n;
        if (res->steps[i].ok && strcmp(res->steps[i].what, "network trial") == 0 &&
            sscanf(res->steps[i].detail, "confirm within %ld s", &n) == 1 && n > 0)
            return n;
    }
    return 0;
}

static void confirm_box(const struct wiz *w)
{
    long left = (long)(w->sess.net_confirm_until - w->now);
    if (left <= 0)
        return;
    html_printf("<section class=\"confirm\" aria-label=\"Confirm\">\n"
                "<p><strong>Confirm the new network settings within %ld s.</strong> If this page "
                "still reaches the appliance, they work: confirm them. Otherwise the previous "
                "settings come back on their own.</p>\n",
                left);
    form_begin(w, "/network/confirm", false);
    form_end("Keep the new network settings");
    html_printf("</section>\n");
}

static void network_page(struct wiz *w, const struct settings_form *sf, int submitted,
                         const struct result *confirm)
{
    layout_begin(w, setting_groups[G_NETWORK].title);
    html_printf("<p>How the appliance is named and reached on your network. With DHCP the "
                "address, gateway and DNS servers come from your DHCP server and the fields "
                "below them are ignored.</p>\n");
    if (confirm)
        form_result(confirm);
    confirm_box(w);
    settings_form_show(sf, w, "/network", network_fields, NETWORK_NFIELDS, submitted);
    layout_end();
    reply_send(submitted == 0 ? 400 : 200);
}

void page_network(struct wiz *w)
{
    static struct settings_form sf;
    int submitted = settings_form_handle(&sf, w, network_fields, NETWORK_NFIELDS);
    long n = submitted == 1 ? trial_seconds(&sf.res) : 0;
    if (n > 0)
        w->sess.net_confirm_until = w->now + n;
    network_page(w, &sf, submitted, NULL);
}

void page_network_confirm(struct wiz *w)
{
    static struct settings_form sf;
    struct result res;
    struct request rq;
    if (!w->post) {
        reply_redirect("/network");
        return;
    }
    settings_form_load(&sf);
    request_init(&rq, "network-confirm");
    int rc = spool_call(&rq, WIZ_APPLY_TIMEOUT, &res, sf.sys_err, sizeof(sf.sys_err));
    request_free(&rq);
    if (rc == 0)
        w->sess.net_confirm_until = 0;
    network_page(w, &sf, -2, rc == 0 ? &res : NULL);
}
