/* pullbox-console -c COMMAND: what an SSH client asks the admin's login
 * shell to run instead of a session. Only the server side of scp (its
 * original protocol: OpenSSH's `scp -O`) is run, with fixed arguments and a
 * fixed folder: a bundle copied into ~/updates (sink, -t) or a file fetched
 * from the admin's home (source, -f: a backup the console wrote). Anything
 * else is refused: the menu stays the only way in. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "console.h"
#include "root.h"
#include "update.h"

#define SCP_PATH "usr/sbin/scp" /* dropbear's, in its multi-binary */
#define SCP_ARGS_MAX 8
#define SCP_CMD_MAX 512

static int refuse(const char *cmd)
{
    fprintf(stderr,
            "pullbox-console: over SSH only scp -O into ~/updates (an update bundle) or from "
            "your home folder (a backup) is allowed, not \"%.80s\"\n",
            cmd);
    return 100;
}

/* A plain name for -f: what the backup menu writes (no folder, not hidden). */
static bool home_name(const char *p)
{
    if (!*p || *p == '.' || strlen(p) > 64)
        return false;
    for (; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '-' || *p == '_'))
            return false;
    return true;
}

/* "updates", "updates/" or "updates/NAME.pbu" for -t. */
static bool updates_target(const char *p)
{
    static const char dir[] = "updates";
    if (strncmp(p, dir, sizeof(dir) - 1) != 0)
        return false;
    p += sizeof(dir) - 1;
    return *p == '\0' || (*p == '/' && (p[1] == '\0' || update_name_valid(p + 1)));
}

int con_scp_command(const char *cmd)
{
    char buf[SCP_CMD_MAX + 1], scp[4096], home[4096];
    char *argv[SCP_ARGS_MAX + 1];
    int argc = 0;
    bool sink = false, source = false;
    if (strlen(cmd) > SCP_CMD_MAX)
        return refuse(cmd);
    snprintf(buf, sizeof buf, "%s", cmd);
    /* words split on single spaces; no quoting, no shell characters */
    for (char *w = strtok(buf, " "); w; w = strtok(NULL, " ")) {
        if (argc == SCP_ARGS_MAX || strpbrk(w, "'\"\\$`;&|<>*?()[]{}~\t\n"))
            return refuse(cmd);
        argv[argc++] = w;
    }
    argv[argc] = NULL;
    if (argc < 3 || strcmp(argv[0], "scp") != 0)
        return refuse(cmd);
    for (int i = 1; i < argc - 1; i++) {
        if (strcmp(argv[i], "-t") == 0)
            sink = true;
        else if (strcmp(argv[i], "-f") == 0)
            source = true;
        else if (strcmp(argv[i], "-d") != 0 && strcmp(argv[i], "-p") != 0 &&
                 strcmp(argv[i], "-v") != 0)
            return refuse(cmd); /* -r (folders) included */
    }
    const char *target = argv[argc - 1];
    if (sink == source || (sink && !updates_target(target)) || (source && !home_name(target)))
        return refuse(cmd);
    if (root_path(home, sizeof home, CON_HOME) != 0 || chdir(home) != 0) {
        fprintf(stderr, "pullbox-console: %s: %s\n", home, strerror(errno));
        return 111;
    }
    if (sink && mkdir("updates", 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "pullbox-console: ~/updates: %s\n", strerror(errno));
        return 111;
    }
    root_path(scp, sizeof scp, SCP_PATH);
    static char *const envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL};
    execve(scp, argv, envp);
    fprintf(stderr, "pullbox-console: cannot run %s: %s\n", scp, strerror(errno));
    return 111;
}
