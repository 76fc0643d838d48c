/* Menu item 3: the signing key pullboxd checks channel signatures with
 * (the Bitrix site signs with the same key), and its rotation: the apply
 * service makes a new key and keeps the old one valid for the grace period
 * so clients signed with it do not all fail at once. */
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
    if (!con_load(&st, &sec))
        return;
    print_key(&sec);
    printf("\nAfter a rotation, give the new key to the Bitrix site (menu 9).\n");
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
