/* pullbox-console: the appliance's maintenance menu, the admin's login
 * shell on tty1, the serial console and SSH.
 *
 *   pullbox-console            the menu (or, before the claim, the setup screen)
 *   pullbox-console --status   print the status header once and exit
 *   pullbox-console -c CMD     an SSH client's command: scp into ~/updates or
 *                              from the home folder only (scp.c)
 *
 * Exit codes: 0 logged out or end of input, 100 usage. Files are found under
 * $PULLBOX_ROOT (lib/root.h) so the tests run it against a temporary root. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "console.h"

#define USAGE "pullbox-console [ --status | -c \"scp -t updates/\" ]"

/* Before the claim nobody has authenticated (the screen may run without a
 * login), so it shows only what the wizard needs and never the menu; once
 * the claim is seen it exits and the login prompt takes over. */
static int unclaimed_loop(void)
{
    while (!con_is_claimed()) {
        con_print_unclaimed();
        con_intr = 0;
        if (!con_wait_enter("Press Enter to refresh. ") && con_quit)
            return 0;
    }
    printf("This appliance has been set up: log in as admin for the maintenance menu.\n");
    return 0;
}

/* A hung-up session ends at once: nobody reads what exit handlers would
 * print, and under ASan the leak check they run (it stops the process with
 * ptrace) was seen to spin for ever on the signals a hang-up brings. */
static int leave(int code)
{
    if (con_hangup)
        _exit(code);
    return code;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    umask(077); /* backups written here hold every secret */
    if (argc == 2 && strcmp(argv[1], "--status") == 0) {
        con_print_header();
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "-c") == 0)
        return con_is_claimed() ? con_scp_command(argv[2]) : 100;
    if (argc != 1) {
        fprintf(stderr, "usage: %s\n", USAGE);
        return 100;
    }
    con_signals_init();
    if (!con_is_claimed())
        return leave(unclaimed_loop());
    menu_run();
    return leave(0);
}
