/* Menu item 7: a service's log (svlogd's <root>/var/log/<service>/current):
 * page through its last lines, or follow it as it grows until Ctrl-C or
 * Enter. svlogd rotates by renaming current, so follow reopens the file
 * when its inode changes. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "console.h"
#include "root.h"
#include "status.h"

#define LOG_MAX_SERVICES 32
#define LOG_TAIL_LINES 2000
#define LOG_TAIL_BYTES (512 * 1024)

/* A folder name is used in a path only if it is a plain name. */
static bool plain_name(const char *s)
{
    if (!s[0] || s[0] == '.' || strlen(s) > 31)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' ||
              *s == '.'))
            return false;
    return true;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(a, b);
}

static int list_logs(char names[][32], int max)
{
    char dir[4096], cur[4400];
    int n = 0;
    if (root_path(dir, sizeof dir, PATH_LOGS) < 0)
        return 0;
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < max) {
        if (!plain_name(e->d_name))
            continue;
        snprintf(cur, sizeof cur, "%s/%s/current", dir, e->d_name);
        if (access(cur, R_OK) == 0)
            snprintf(names[n++], 32, "%.31s", e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, 32, by_name);
    return n;
}

static int page_lines(void)
{
    struct winsize w;
    if (ioctl(1, TIOCGWINSZ, &w) == 0 && w.ws_row > 6)
        return w.ws_row - 2;
    return 20;
}

static void page(const char *name)
{
    char err[256];
    char *buf = malloc(LOG_TAIL_BYTES);
    if (!buf)
        return;
    long len = status_log_tail(name, LOG_TAIL_LINES, buf, LOG_TAIL_BYTES, err, sizeof err);
    if (len < 0) {
        printf("%s\n", err);
        free(buf);
        return;
    }
    if (len == 0)
        printf("(the log is empty)\n");
    int per = page_lines(), shown = 0;
    for (char *p = buf; *p;) {
        char *nl = strchr(p, '\n');
        size_t l = nl ? (size_t)(nl - p) : strlen(p);
        printf("%.*s\n", (int)l, p);
        p += l + (nl ? 1 : 0);
        if (++shown % per == 0 && *p && !con_wait_enter("-- more (Enter: next page, q: back) --"))
            break;
    }
    free(buf);
}

static void follow(const char *name)
{
    char rel[128], path[4096], buf[4096], err[256];
    struct stat st;
    long n = status_log_tail(name, 10, buf, sizeof buf, err, sizeof err);
    if (n < 0) {
        printf("%s\n", err);
        return;
    }
    snprintf(rel, sizeof rel, "%s/%s/current", PATH_LOGS, name);
    if (root_path(path, sizeof path, rel) < 0)
        return;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        printf("Cannot open the log of %s.\n", name);
        return;
    }
    lseek(fd, 0, SEEK_END);
    fwrite(buf, 1, (size_t)n, stdout);
    printf("---- following %s: Ctrl-C or Enter to stop ----\n", name);
    fflush(stdout);
    for (;;) {
        int in = con_poll_input(500);
        if (in != 0) {
            if (in > 0)
                con_wait_enter(""); /* take the Enter that stopped us */
            break;
        }
        ssize_t r;
        while ((r = read(fd, buf, sizeof buf)) > 0)
            fwrite(buf, 1, (size_t)r, stdout);
        fflush(stdout);
        struct stat now;
        if (stat(path, &now) == 0 && fstat(fd, &st) == 0 && now.st_ino != st.st_ino) {
            int nfd = open(path, O_RDONLY | O_CLOEXEC); /* rotated: the new current */
            if (nfd >= 0) {
                close(fd);
                fd = nfd;
            }
        }
    }
    close(fd);
}

void action_logs(void)
{
    static char names[LOG_MAX_SERVICES][32];
    int n = list_logs(names, LOG_MAX_SERVICES), choice, how;
    if (n == 0) {
        printf("No service has a log yet.\n");
        return;
    }
    for (int i = 0; i < n; i++)
        printf("  %2d  %s\n", i + 1, names[i]);
    if (!con_ask_number("\nWhich service (q to go back)? ", n, &choice))
        return;
    printf("  1  Page through the last lines\n  2  Follow (Ctrl-C or Enter to stop)\n");
    if (!con_ask_number("Choose (1-2, q to go back): ", 2, &how))
        return;
    if (how == 1)
        page(names[choice - 1]);
    else
        follow(names[choice - 1]);
}
