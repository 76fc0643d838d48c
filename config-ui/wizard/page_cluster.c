/* /cluster: scale-out. One appliance alone, this appliance as the hub (it
 * runs the Redis every appliance of the cluster shares, over TLS; the apply
 * service makes its password and its CA, both shown here to copy to the
 * nodes, as /keys shows the signing key), or a node that uses the hub at an
 * address and pins the hub's CA by its fingerprint. A node's copy of
 * the hub's password is a secret: it goes with the settings request, is
 * checked by the library's rule, and is never shown back. */
#include "appstate.h"
#include "form.h"
#include "groups.h"
#include "html.h"
#include "hubca.h"
#include "layout.h"
#include "reply.h"
#include "secrets.h"
#include "settings_form.h"
#include "spool.h"
#include "wizard.h"

#include <stdio.h>
#include <string.h>

#define cluster_fields (setting_groups[G_CLUSTER].ids)
#define CLUSTER_NFIELDS (setting_groups[G_CLUSTER].n)
#define PW_FIELD OP_SETTINGS_HUB_PASSWORD

struct cluster_form {
    struct settings_form sf;
    char pw_err[SETTING_ERR_MAX]; /* why the hub password was refused */
    bool have_hub_password;       /* a node's copy is already stored */
};

static const struct {
    const char *value, *title, *text;
} cluster_roles[] = {
    {"standalone", "One appliance",
     "This appliance serves every browser and mobile app on its own. Choose this unless you "
     "run several Pullbox appliances behind one name."},
    {"hub", "This appliance is the hub",
     "This appliance keeps the queue for all your Pullbox appliances (it runs Redis on port "
     "6379). The other appliances connect to it, so a message published to any of them reaches "
     "every user. List their addresses below: only they may connect."},
    {"node", "Use the hub at another address",
     "This appliance joins a hub: give the hub's address, and the password and CA fingerprint "
     "the hub's Cluster page shows (the fingerprint proves it is your hub: the connection is "
     "encrypted and refused if another machine answers)."},
};

/* POST /cluster: the three settings through the one validator, the
 * password through the secrets rule; nothing is sent if any is refused. */
static int cluster_submit(struct cluster_form *cf, const struct wiz *w)
{
    const char *pw = cgi_form_get(&w->form, PW_FIELD);
    bool fields_ok = settings_form_validate(&cf->sf, w, cluster_fields, CLUSTER_NFIELDS);
    char err[128];

    if (pw && pw[0] && secrets_check_redis_password(pw, err, sizeof(err)) != 0)
        snprintf(cf->pw_err, sizeof(cf->pw_err), "Hub password: %s", err);
    else if (strcmp(cf->sf.st.v[S_CLUSTER_ROLE], "node") == 0 && !(pw && pw[0]) &&
             !cf->have_hub_password)
        snprintf(cf->pw_err, sizeof(cf->pw_err),
                 "Hub password: a node needs the hub's Redis password (the hub's Cluster page "
                 "shows it)");
    if (!fields_ok || cf->pw_err[0])
        return 0;
    if (settings_form_send_secret(&cf->sf, PW_FIELD, pw) < 0)
        return -1;
    if (!cf->sf.res.ok && strncmp(cf->sf.res.message, "Hub password:", 13) == 0)
        snprintf(cf->pw_err, sizeof(cf->pw_err), "%.*s", SETTING_ERR_MAX - 1, cf->sf.res.message);
    if (cf->sf.res.ok)
        memset(cf->sf.shown, 0, sizeof(cf->sf.shown));
    return 1;
}

static void role_choices(const struct cluster_form *cf)
{
    const char *role =
        cf->sf.shown[S_CLUSTER_ROLE] ? cf->sf.shown[S_CLUSTER_ROLE] : cf->sf.st.v[S_CLUSTER_ROLE];
    const char *err = cf->sf.err[S_CLUSTER_ROLE];

    html_printf("<fieldset class=\"choices%s\" id=\"cluster-role\">\n<legend>%s</legend>\n",
                err[0] ? " invalid" : "", setting_defs[S_CLUSTER_ROLE].label);
    for (size_t i = 0; i < sizeof(cluster_roles) / sizeof(cluster_roles[0]); i++)
        html_printf("<div class=\"choice\"><input type=\"radio\" name=\"cluster.role\" "
                    "id=\"role-%s\" value=\"%s\"%s> <label for=\"role-%s\"><strong>%s</strong>"
                    "</label><small class=\"help\">%s</small></div>\n",
                    cluster_roles[i].value, cluster_roles[i].value,
                    strcmp(role, cluster_roles[i].value) == 0 ? " checked" : "",
                    cluster_roles[i].value, cluster_roles[i].title, cluster_roles[i].text);
    if (err[0])
        html_printf("<strong class=\"field-error\" id=\"cluster.role-error\" role=\"alert\">%s"
                    "</strong>\n",
                    err);
    html_printf("</fieldset>\n");
}

static void cluster_form_show(const struct cluster_form *cf, const struct wiz *w)
{
    static const enum setting_id hub_field[] = {S_CLUSTER_HUB, S_CLUSTER_HUB_CA},
                                 peers_field[] = {S_CLUSTER_PEERS};

    form_begin(w, "/cluster", false);
    role_choices(cf);
    html_printf("<h2>For a node</h2>\n");
    settings_form_fields(&cf->sf, hub_field, 2);
    form_input("password", PW_FIELD, "Hub password", NULL,
               cf->have_hub_password
                   ? "Copied from the hub's Cluster page. Leave it empty to keep the one given "
                     "before."
                   : "Copied from the hub's Cluster page (16 to 128 letters, digits or ._-+/=: "
                     "characters).",
               cf->pw_err);
    html_printf("<h2>For the hub</h2>\n");
    settings_form_fields(&cf->sf, peers_field, 1);
    form_end("Save and apply");
}

void page_cluster(struct wiz *w)
{
    static struct cluster_form cf;
    struct secrets sec;
    char err[256];
    int submitted = -2;
    bool have_sec;

    memset(&cf, 0, sizeof(cf));
    have_sec = appstate_load(NULL, &sec, err, sizeof(err)) == 0;
    cf.have_hub_password = have_sec && sec.hub_password[0] != '\0';
    if (settings_form_load(&cf.sf) == 0 && w->post)
        submitted = cluster_submit(&cf, w);
    if (submitted == 1) /* the apply service may have made the hub's password */
        have_sec = appstate_load(NULL, &sec, err, sizeof(err)) == 0;

    layout_begin(w, "Cluster");
    html_printf("<p>Several Pullbox appliances can serve one Bitrix site together: one of them "
                "is the <em>hub</em> and keeps the queue, the others are <em>nodes</em> that use "
                "it. Every appliance still needs the same signing key and the Bitrix site's "
                "settings.</p>\n");
    settings_form_outcome(&cf.sf, submitted);
    if (!have_sec) {
        layout_notice("error", err);
    } else if (strcmp(cf.sf.st.v[S_CLUSTER_ROLE], "hub") == 0 && sec.redis_password[0]) {
        html_printf("<section class=\"hub\" aria-label=\"Hub password\">\n<p>This appliance is "
                    "the hub. Give this password to each node (its Cluster page, <em>Hub "
                    "password</em>):</p>\n");
        form_secret_value("hub-password", "Hub password", sec.redis_password);
        char fp[HUBCA_FINGERPRINT_LEN];
        if (hubca_fingerprint(PATH_HUBCA_CERT, fp, err, sizeof(err)) == 0)
            html_printf("<p>and this CA fingerprint (its <em>Hub CA fingerprint</em>; it is not "
                        "a secret):</p>\n<p><code id=\"hub-ca\">%s</code></p>\n",
                        fp);
        html_printf("</section>\n");
    }
    memset(&sec, 0, sizeof(sec));
    cluster_form_show(&cf, w);
    layout_end();
    reply_send(submitted == 0 ? 400 : 200);
}
