/* Menu item 11: back to factory settings. The apply service wipes the data
 * partition (settings, keys, certificate, SSH keys) and reboots; the
 * appliance then waits for a new claim. Only the typed word RESET goes on. */
#include <stdio.h>
#include <string.h>

#include "console.h"

void action_factory_reset(void)
{
    char word[CON_LINE_MAX];
    printf("This erases every setting, the signing key, the certificate, the admin password\n"
           "and the SSH keys, then reboots. Take a backup first (menu 8).\n");
    if (!con_ask("Type RESET to go on (anything else goes back): ", word, sizeof word) ||
        strcmp(word, "RESET") != 0) {
        printf("Nothing was changed.\n");
        return;
    }
    con_send_arg("factory-reset", "confirm", "yes");
}
