/* Menu item 9: the Bitrix site group (lib/groups.h: the public name, the
 * web servers allowed to publish, the queue server version and the
 * signature algorithm), and what to give the Bitrix site, derived from the
 * settings and the signing key by the wizard's code (lib/cpull.h): the
 * values of the pull module's settings page, the .settings.php block and
 * the PHP calls. */
#include <stdio.h>
#include <string.h>

#include "console.h"
#include "cpull.h"
#include "secrets.h"
#include "settings.h"

/* After the values (which follow from these settings): one of the site's
 * settings changed, or Enter to go back. */
static void change_site(const struct settings *old)
{
    printf("\nThe Bitrix site's settings on this appliance:\n");
    con_group_print(G_SITE, old);
    con_group_edit(G_SITE, old, "Apply these settings?");
}

void action_bitrix(void)
{
    static struct settings st;
    static struct secrets sec;
    static struct cpull_option opts[CPULL_MAX_OPTIONS];
    char host[64];
    if (!con_load(&st, &sec))
        return;
    con_appliance_address(&st, host, sizeof host);
    size_t n = cpull_options(&st, &sec, host[0] ? host : st.v[S_SITE_PUBLIC_NAME], opts,
                             CPULL_MAX_OPTIONS);
    int width = 0; /* the longest label: one column of values to copy from */
    for (size_t i = 0; i < n; i++)
        if ((int)strlen(opts[i].label) > width)
            width = (int)strlen(opts[i].label);
    printf("In the pull module's settings page (Settings > Push and Pull):\n\n");
    for (size_t i = 0; i < n; i++)
        printf("  %-*s  %s\n", width, opts[i].label, opts[i].value);
    printf("\n---- bitrix/.settings.php ----\n");
    fflush(stdout);
    cpull_write_settings_php(opts, n, stdout);
    printf("\n---- or, in PHP (php -r, or the site's command line) ----\n");
    fflush(stdout);
    cpull_write_php_calls(opts, n, stdout);
    fflush(stdout);
    change_site(&st);
}
