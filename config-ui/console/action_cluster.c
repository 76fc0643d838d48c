/* Menu item 14: scale-out. One appliance alone (standalone), this
 * appliance as the hub (it runs the Redis every appliance of the cluster
 * shares, over TLS; the apply service makes its password and CA), or a
 * node that uses the hub. The hub's Redis password and CA fingerprint are
 * shown here, as the signing key is in menu 3, so the admin can copy them
 * to each node; a node's copy of the password is asked with the echo off
 * and goes to the apply service as a secret, the fingerprint (public) as a
 * setting. */
#include <stdio.h>
#include <string.h>

#include "console.h"
#include "hubca.h"
#include "secrets.h"
#include "settings.h"
#include "spool.h"

static void print_cluster(const struct settings *st, const struct secrets *sec)
{
    const char *role = st->v[S_CLUSTER_ROLE];

    if (strcmp(role, "hub") == 0) {
        char fp[HUBCA_FINGERPRINT_LEN], err[160];
        printf("This appliance is the cluster's hub: it runs Redis on port 6379 (TLS).\n");
        printf("  %-28s %s\n", setting_defs[S_CLUSTER_PEERS].label,
               st->v[S_CLUSTER_PEERS][0] ? st->v[S_CLUSTER_PEERS] : "(none: 6379 closed)");
        printf("  %-28s %s\n", "Hub password (for the nodes)",
               sec->redis_password[0] ? sec->redis_password : "(made when applied)");
        printf("  %-28s %s\n", "Hub CA fingerprint",
               hubca_fingerprint(PATH_HUBCA_CERT, fp, err, sizeof err) == 0 ? fp
                                                                         : "(made when applied)");
    } else if (strcmp(role, "node") == 0) {
        printf("This appliance is a node: it uses the hub's Redis.\n");
        printf("  %-28s %s\n", setting_defs[S_CLUSTER_HUB].label, st->v[S_CLUSTER_HUB]);
        printf("  %-28s %s\n", "Hub password", sec->hub_password[0] ? "(set)" : "(not set)");
        printf("  %-28s %s\n", setting_defs[S_CLUSTER_HUB_CA].label,
               st->v[S_CLUSTER_HUB_CA][0] ? st->v[S_CLUSTER_HUB_CA] : "(not set)");
    } else {
        printf("This appliance works alone (standalone): no cluster.\n");
    }
    printf("\n");
}

/* The hub's Redis password for a node: asked with the echo off and checked
 * with the library's rule; Enter keeps the stored one when there is one. */
static bool ask_hub_password(const struct secrets *sec, char *out, size_t outlen)
{
    char err[128];

    for (;;) {
        if (!con_ask_secret(sec->hub_password[0] ? "Hub password (Enter keeps the current one): "
                                                 : "Hub password (shown on the hub, menu 14): ",
                            out, outlen)) {
            if (out[0] == '\0' && sec->hub_password[0] && !con_aborted())
                return true;
            return false;
        }
        if (secrets_check_redis_password(out, err, sizeof err) == 0)
            return true;
        printf("Hub password: %s\n", err);
    }
}

void action_cluster(void)
{
    static struct settings old, st;
    static struct secrets sec;
    static struct result res;
    char password[CON_LINE_MAX] = "", err[SETTING_ERR_MAX];
    int choice;
    bool answered = false;

    if (!con_load(&old, &sec))
        return;
    st = old;
    print_cluster(&old, &sec);
    printf("  1  One appliance: this appliance serves every client alone (standalone)\n"
           "  2  This appliance is the hub: it keeps the queue for all appliances\n"
           "  3  Use the hub at another address: this appliance is a node\n\n");
    if (!con_ask_number("Choose (1-3, q to go back)? ", 3, &choice))
        return;
    switch (choice) {
    case 1:
        answered = settings_set(&st, S_CLUSTER_ROLE, "standalone", err, sizeof err) == 0;
        break;
    case 2:
        printf("(the other appliances' addresses may reach Redis on 6379; \"none\" for none)\n");
        answered = settings_set(&st, S_CLUSTER_ROLE, "hub", err, sizeof err) == 0 &&
                   con_ask_setting(&st, S_CLUSTER_PEERS);
        break;
    case 3:
        answered = settings_set(&st, S_CLUSTER_ROLE, "node", err, sizeof err) == 0 &&
                   con_ask_setting(&st, S_CLUSTER_HUB) &&
                   ask_hub_password(&sec, password, sizeof password) &&
                   con_ask_setting(&st, S_CLUSTER_HUB_CA);
        break;
    }
    if (!answered) {
        printf("Nothing was changed.\n");
        return;
    }
    if (password[0])
        printf("\n  Hub password: (a new one)\n");
    if (!con_review(&old, &st, password[0] != '\0', "Apply these settings?"))
        return;
    bool sent = con_send_settings_secret(&st, OP_SETTINGS_HUB_PASSWORD, password, &res);
    memset(password, 0, sizeof password);
    if (sent && con_load(&st, &sec)) {
        printf("\n");
        print_cluster(&st, &sec);
    }
    memset(&sec, 0, sizeof sec);
}
