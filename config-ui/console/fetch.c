/* Downloading a bundle for the console (menu item 15): BusyBox wget, run as
 * the admin (never root), writes to a pipe; the console copies at most max
 * bytes into a file in the admin's folder and stops wget past that, past
 * the overall deadline or on Ctrl-C. A download is not trusted: the bundle's
 * signature is what counts, and it is checked before anything is installed
 * (BusyBox's own TLS does not check the server's certificate). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "console.h"
#include "fileio.h"
#include "root.h"

#define WGET_PATH "usr/bin/wget"
#define WGET_IDLE_SECONDS "30" /* wget's own timeout: connect and each read */

static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

bool con_url_valid(const char *url)
{
    size_t n = strlen(url);
    if (n > CON_URL_MAX || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0))
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)url[i] <= ' ' || url[i] == 0x7f)
            return false;
    return n > (url[4] == 's' ? 8u : 7u);
}

int con_fetch(const char *url, int out_fd, unsigned long long max, const char *too_large,
              double seconds, unsigned long long *got, char *err, size_t errlen)
{
    char wget[4096];
    int p[2];
    *got = 0;
    if (root_path(wget, sizeof wget, WGET_PATH) != 0 || pipe2(p, O_CLOEXEC) != 0) {
        snprintf(err, errlen, "cannot start wget");
        return -1;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "cannot start wget: %s", strerror(errno));
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid == 0) {
        static char *const envp[] = {"PATH=/usr/bin:/bin", NULL};
        char *const argv[] = {"wget", "-q", "-T", WGET_IDLE_SECONDS, "-O", "-", (char *)url, NULL};
        signal(SIGINT, SIG_DFL);
        signal(SIGPIPE, SIG_DFL);
        dup2(p[1], 1);
        execve(wget, argv, envp);
        _exit(127);
    }
    close(p[1]);
    double deadline = now_mono() + seconds;
    int rc = 0;
    static char buf[64 * 1024];
    for (;;) {
        double left = deadline - now_mono();
        if (left <= 0) {
            snprintf(err, errlen, "no complete download within %.0f s", seconds);
            rc = -1;
            break;
        }
        if (con_aborted()) {
            snprintf(err, errlen, "interrupted");
            rc = -1;
            break;
        }
        struct pollfd pf = {p[0], POLLIN, 0};
        int n = poll(&pf, 1, left > 1 ? 1000 : (int)(left * 1000) + 1);
        if (n <= 0)
            continue;
        ssize_t r = read(p[0], buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        if (*got + (unsigned long long)r > max) {
            snprintf(err, errlen, "%s", too_large);
            rc = -1;
            break;
        }
        if (file_write_all(out_fd, buf, (size_t)r) != 0) {
            snprintf(err, errlen,
                     errno == ENOSPC ? "not enough space in the folder: %s"
                                     : "cannot write the file: %s",
                     strerror(errno));
            rc = -1;
            break;
        }
        *got += (unsigned long long)r;
    }
    close(p[0]);
    if (rc != 0)
        kill(pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (rc == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
        snprintf(err, errlen, "wget failed (%s %d): check the address",
                 WIFEXITED(status) ? "exit status" : "signal",
                 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
        rc = -1;
    }
    return rc;
}
