/* What the admin sees first: the status header above the menu, and before
 * the appliance is claimed the only screen there is (address, wizard URL,
 * setup code). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "console.h"
#include "fileio.h"
#include "root.h"
#include "settings.h"
#include "status.h"

#ifndef PULLBOX_VERSION
#define PULLBOX_VERSION "0.0.0"
#endif

static void format_uptime(double s, char *out, size_t outlen)
{
    long long t = (long long)s;
    long long d = t / 86400, h = t % 86400 / 3600, m = t % 3600 / 60;
    if (d > 0)
        snprintf(out, outlen, "%lld d %02lld:%02lld", d, h, m);
    else
        snprintf(out, outlen, "%02lld:%02lld", h, m);
}

void con_print_header(void)
{
    static struct appliance_status st; /* large: kept off the stack */
    char up[32];
    memset(&st, 0, sizeof st);
    status_read(&st, CON_PUBLISH_PORT, 1.0);
    format_uptime(st.uptime, up, sizeof up);
    /* status knows the image's version (etc/pullbox-version); elsewhere the
     * console's own build version is the best answer */
    const char *version =
        st.version[0] && strcmp(st.version, "unknown") != 0 ? st.version : PULLBOX_VERSION;
    printf("==== Pullbox %s | address %s | up %s ====\n", version,
           st.address[0] ? st.address : "none", up);
    printf("Services:");
    for (size_t i = 0; i < st.nservices; i++)
        printf(" %s %s%s", st.services[i].name,
               st.services[i].up ? "up" : st.services[i].off ? "off" : "DOWN",
               i + 1 < st.nservices ? "," : "");
    printf("%s\n", st.nservices ? "" : " (none found)");
    if (st.metrics_ok)
        printf("Connections %lld | channels %lld | messages/s %.1f | messages %lld\n",
               st.connections, st.channels, st.messages_per_second, st.messages_total);
    else
        printf("pullboxd does not answer on 127.0.0.1:%d: no figures\n", CON_PUBLISH_PORT);
    if (st.disk_total)
        printf("Data disk: %llu MiB free of %llu MiB\n", st.disk_free >> 20, st.disk_total >> 20);
}

bool con_is_claimed(void)
{
    char path[4096];
    return root_path(path, sizeof path, PATH_CLAIMED) == 0 && access(path, F_OK) == 0;
}

void con_print_unclaimed(void)
{
    static struct settings st;
    char path[4096], err[256], addr[64] = "";
    char *code = NULL;
    settings_defaults(&st);
    if (con_load(&st, NULL))
        con_appliance_address(&st, addr, sizeof addr);
    if (root_path(path, sizeof path, PATH_SETUP_CODE) < 0 ||
        file_read_all(path, 256, &code, err, sizeof err) < 0)
        code = NULL;
    if (code)
        code[strcspn(code, "\r\n")] = '\0';
    printf("\n==== Pullbox %s: not set up yet ====\n\n", PULLBOX_VERSION);
    if (addr[0])
        printf("Address:     %s\nOpen the setup wizard at https://%s/\n", addr, addr);
    else
        printf("Address:     none yet (waiting for DHCP)\n"
               "Open the setup wizard at https://<this appliance's address>/\n");
    printf("Setup code:  %s\n\n", code && code[0] ? code : "(none: see the console log)");
    printf("The maintenance menu is available once the wizard has set the admin password.\n");
    free(code);
}
