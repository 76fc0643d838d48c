/* Menu item 2: the network group (lib/groups.h): host name, address mode
 * (DHCP or static address, gateway, DNS), DNS and NTP servers. The answers
 * go into a copy of the settings; one "settings" request carries them all
 * after the admin confirms. A
 * change of the network file is then kept only if the admin confirms it
 * again over the new network, else the apply service rolls it back: an
 * admin who loses contact gets the old address back on their own. */
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

#include "console.h"
#include "settings.h"
#include "spool.h"

/* The prompt gives up this much before the apply service's deadline, so a
 * late "y" never races the rollback. */
#define NET_CONFIRM_MARGIN 5

/* The apply service puts a network change on trial and says so in a
 * "network trial" step ("confirm within 120 s ..."): the seconds left, or 0
 * when nothing waits for a confirmation. */
static int trial_seconds(const struct result *res)
{
    for (size_t i = 0; i < res->nsteps; i++) {
        const char *w;
        if (strcmp(res->steps[i].what, "network trial") != 0 || !res->steps[i].ok)
            continue;
        w = strstr(res->steps[i].detail, "within ");
        return w ? atoi(w + 7) : 60;
    }
    return 0;
}

/* The address mode brings the static address, gateway and DNS with it;
 * "none" clears the NTP list. */
static bool ask_network(struct settings *st, enum setting_id id)
{
    if (id == S_NET_NTP)
        printf("(\"none\" turns time synchronisation off)\n");
    if (!con_ask_setting(st, id))
        return false;
    if (id != S_NET_MODE || strcmp(st->v[S_NET_MODE], "static") != 0)
        return true;
    return con_ask_setting(st, S_NET_ADDRESS) && con_ask_setting(st, S_NET_GATEWAY) &&
           con_ask_setting(st, S_NET_DNS);
}

static void confirm_network(int seconds)
{
    bool timed_out;
    char q[160];
    int wait = seconds > 2 * NET_CONFIRM_MARGIN ? seconds - NET_CONFIRM_MARGIN : seconds / 2;
    printf("\nThe network was restarted with the new settings. If you can still read this,\n"
           "confirm them; otherwise the previous settings come back on their own.\n");
    snprintf(q, sizeof q, "Confirm the new settings within %d s", wait);
    if (con_confirm_within(q, wait, &timed_out)) {
        con_intr = 0;
        con_send_op("network-confirm");
        return;
    }
    printf("Not confirmed: the previous network settings come back within %d s.\n", seconds);
}

void action_network(void)
{
    static struct settings old, st;
    if (!con_load(&old, NULL))
        return;
    st = old;
    con_group_print(G_NETWORK, &old);
    bool answered = con_group_change(G_NETWORK, &st, ask_network);
    if (!answered) {
        printf("Nothing was changed.\n");
        return;
    }
    if (!con_review(&old, &st, false, "Apply these settings?"))
        return;
    static struct result res;
    if (con_send_settings(&st, &res) && trial_seconds(&res) > 0)
        confirm_network(trial_seconds(&res));
}
