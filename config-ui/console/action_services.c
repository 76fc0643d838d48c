/* Menu item 6: restart one service or all of them. The apply service runs
 * "sv restart" (the console runs as admin and may not); the names are the
 * ones its "service" operation accepts. */
#include <stdio.h>
#include <string.h>

#include "console.h"
#include "spool.h"
#include "status.h"

static const char *const restartable[] = {"pullboxd", "lighttpd", "dropbear", "ntpd", "network"};
#define N_RESTARTABLE ((int)(sizeof restartable / sizeof restartable[0]))

static const char *state_of(const struct appliance_status *st, const char *name)
{
    for (size_t i = 0; i < st->nservices; i++)
        if (strcmp(st->services[i].name, name) == 0)
            return st->services[i].text;
    return "(not installed here)";
}

void action_services(void)
{
    static struct appliance_status st;
    static struct request r;
    char q[128];
    int choice;
    status_read(&st, CON_PUBLISH_PORT, 0.5);
    for (int i = 0; i < N_RESTARTABLE; i++)
        printf("  %d  %-10s %s\n", i + 1, restartable[i], state_of(&st, restartable[i]));
    printf("  %d  all of them\n\n", N_RESTARTABLE + 1);
    if (!con_ask_number("Restart which (q to go back)? ", N_RESTARTABLE + 1, &choice))
        return;
    const char *name = choice > N_RESTARTABLE ? "all" : restartable[choice - 1];
    snprintf(q, sizeof q, "Restart %s%s?", strcmp(name, "all") ? "" : "every service: ",
             strcmp(name, "all") ? name : "pullboxd, lighttpd, dropbear, ntpd, network");
    if (!con_confirm(q)) {
        printf("Nothing was restarted.\n");
        return;
    }
    request_init(&r, "service");
    if (request_add(&r, "name", name, strlen(name)) < 0 ||
        request_add(&r, "action", "restart", 7) < 0) {
        request_free(&r);
        return;
    }
    con_send(&r, NULL);
}
