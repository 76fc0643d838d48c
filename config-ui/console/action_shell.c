/* Menu item 13: a shell as the console's own user (admin), for what the
 * menu does not cover, after the admin types the password again: an
 * unattended console left logged in does not give a shell away. Leaving
 * the shell comes back to the menu. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <pwd.h>

#include "console.h"

#define SHELL_PATH "/bin/sh"

void action_shell(void)
{
    if (!con_check_password())
        return;
    struct passwd *pw = getpwuid(getuid());
    const char *home = pw && pw->pw_dir ? pw->pw_dir : "/";
    const char *user = pw && pw->pw_name ? pw->pw_name : "admin";
    const char *root = getenv("PULLBOX_ROOT"), *term = getenv("TERM");
    char henv[4200], uenv[128], renv[4200], tenv[128], penv[128];
    snprintf(henv, sizeof henv, "HOME=%s", home);
    snprintf(uenv, sizeof uenv, "USER=%s", user);
    snprintf(renv, sizeof renv, "PULLBOX_ROOT=%s", root ? root : "/");
    snprintf(tenv, sizeof tenv, "TERM=%s", term && term[0] ? term : "vt100");
    snprintf(penv, sizeof penv, "PS1=%s$ ", user);
    /* a fixed environment: nothing the console inherited but these */
    char *const argv[] = {"-sh", "-l", NULL};
    char *const envp[] = {
        henv, uenv, renv, tenv, penv, "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "SHELL=" SHELL_PATH,
        NULL};
    printf("Type exit to come back to the menu.\n");
    con_run(SHELL_PATH, argv, envp);
    con_intr = 0; /* Ctrl-C typed in the shell was the shell's */
}
