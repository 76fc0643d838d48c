/* The numbered main menu: the status header, the items in the README's
 * order, and the rules every item follows: "q" or an empty answer goes back,
 * Ctrl-C comes back here, end of input leaves. */
#include <stdio.h>
#include <stdlib.h>

#include "console.h"

struct menu_item {
    const char *title;
    void (*run)(void);
};

static const struct menu_item menu_items[] = {
    {"Status and self-test", action_status},
    {"Network (address, host name, DNS, NTP)", action_network},
    {"Signing key (show, rotate)", action_key},
    {"Certificate (show, self-signed, import)", action_cert},
    {"Firewall (rules, counters, allowed networks)", action_firewall},
    {"Services (restart)", action_services},
    {"Logs (page through, follow)", action_logs},
    {"Backup and restore", action_backup},
    {"Bitrix site and settings (CPullOptions)", action_bitrix},
    {"Admin password and SSH keys", action_admin},
    {"Reset to factory settings", action_factory_reset},
    {"Reboot or power off", action_power},
    {"Shell", action_shell},
    /* last, so the numbers admins and scripts know keep their items */
    {"Cluster (scale-out)", action_cluster},
    {"Update (install a signed bundle)", action_update},
};

#define MENU_N ((int)(sizeof menu_items / sizeof menu_items[0]))

static void print_menu(void)
{
    printf("\n");
    con_print_header();
    printf("\n");
    for (int i = 0; i < MENU_N; i++)
        printf("  %2d  %s\n", i + 1, menu_items[i].title);
    printf("   q  Log out\n\n");
}

void menu_run(void)
{
    char answer[32];
    while (!con_quit) {
        con_intr = 0;
        print_menu();
        char prompt[32];
        snprintf(prompt, sizeof prompt, "Choose 1-%d: ", MENU_N);
        if (!con_ask(prompt, answer, sizeof answer)) {
            if (con_quit)
                break;
            if (con_intr)
                continue; /* Ctrl-C at the menu: show it again */
            if (answer[0] == '\0')
                continue; /* Enter: refresh the header */
            break;        /* q */
        }
        char *end;
        long n = strtol(answer, &end, 10);
        if (*end != '\0' || n < 1 || n > MENU_N) {
            printf("No item \"%s\": type a number from 1 to %d, or q to log out.\n", answer,
                   MENU_N);
            continue;
        }
        printf("\n---- %s ----\n", menu_items[n - 1].title);
        menu_items[n - 1].run();
        if (con_quit)
            break;
        if (con_intr) {
            printf("\n(interrupted: back to the main menu; nothing more was sent)\n");
            continue;
        }
        con_wait_enter("\nPress Enter to return to the menu. ");
    }
    printf("Bye.\n");
}
