/* Menu item 12: reboot or power off, through the apply service (root). */
#include <stdio.h>

#include "console.h"

void action_power(void)
{
    int choice;
    printf("  1  Reboot\n  2  Power off\n\n");
    if (!con_ask_number("Choose (1-2, q to go back): ", 2, &choice))
        return;
    if (!con_confirm(choice == 1 ? "Reboot the appliance now?" : "Power the appliance off now?")) {
        printf("Nothing was done.\n");
        return;
    }
    con_send_op(choice == 1 ? "reboot" : "poweroff");
}
