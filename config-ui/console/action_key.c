/* Menu item 3: the signing key pullboxd checks channel signatures with
 * (the Bitrix site signs with the same key), and its rotation: the apply
 * service makes a new key and keeps the old one valid for the grace period
 * so clients signed with it do not all fail at once; and the key group's
 * settings (lib/groups.h). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "console.h"
#include "secrets.h"
#include "settings.h"

static void print_key(const struct secrets *sec)
{
    printf("Signing key:          %s\n", sec->signature_key[0] ? sec->signature_key : "(none)");
    if (sec->signature_key_previous[0] && sec->previous_until > (long long)time(NULL)) {
        time_t until = (time_t)sec->previous_until;
        struct tm tm;
        char when[64];
        gmtime_r(&until, &tm);
        strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", &tm);
        printf("Previous key:         %s\n  still accepted until %s\n", sec->signature_key_previous,
               when);
    }
}

void action_key(void)
{
    static struct settings st;
    static struct secrets sec;
    char q[256];
    int choice;
    if (!con_load(&st, &sec))
        return;
    print_key(&sec);
    printf("\n");
    con_group_print(G_KEY, &st);
    printf("  1  Rotate the key\n  2  Change a setting\n\n");
    if (!con_ask_number("Choose (1-2, q to go back): ", 2, &choice))
        return;
    if (choice == 2) {
        con_group_edit(G_KEY, &st, "Apply?");
        return;
    }
    printf("After a rotation, give the new key to the Bitrix site (menu 9).\n");
    snprintf(q, sizeof q, "Rotate the key now (the current one stays valid for %.32s s)?",
             st.v[S_KEY_GRACE_PERIOD]);
    if (!con_confirm(q)) {
        printf("The key is unchanged.\n");
        return;
    }
    if (con_send_op("rotate-key") && con_load(NULL, &sec)) {
        printf("\n");
        print_key(&sec);
    }
}
