/* The settings root ($PULLBOX_ROOT, "/" by default) and the one way to run
 * a program of the appliance: fixed argv, no shell, bounded in time. */
#include "root.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* A relative root is refused: every open below it fails (ENOTDIR) rather
 * than quietly acting on files relative to the current folder or on "/". */
#define ROOT_INVALID "/dev/null/PULLBOX_ROOT-must-be-an-absolute-path"

static char root_buf[PATH_MAX];
static bool root_loaded, root_bad;

static void root_load(void)
{
    const char *env = getenv("PULLBOX_ROOT");
    size_t n;

    root_loaded = true;
    if (env == NULL || env[0] == '\0')
        env = "/";
    if (env[0] != '/' || strlen(env) >= sizeof(root_buf)) {
        root_bad = true;
        snprintf(root_buf, sizeof(root_buf), "%s", ROOT_INVALID);
        return;
    }
    snprintf(root_buf, sizeof(root_buf), "%s", env);
    n = strlen(root_buf);
    while (n > 0 && root_buf[n - 1] == '/')
        root_buf[--n] = '\0';
}

const char *root_dir(void)
{
    if (!root_loaded)
        root_load();
    return root_buf;
}

void root_reset(void)
{
    root_loaded = root_bad = false;
}

bool root_is_system(void)
{
    return root_dir()[0] == '\0';
}

int root_check(char *err, size_t errlen)
{
    root_dir();
    if (root_bad) {
        snprintf(err, errlen, "PULLBOX_ROOT must be an absolute path (like /tmp/approot), not %s",
                 getenv("PULLBOX_ROOT"));
        return -1;
    }
    return 0;
}

int root_path(char *out, size_t outlen, const char *rel)
{
    const char *r = root_dir();
    int n;

    if (root_bad)
        return -1;
    while (*rel == '/')
        rel++;
    n = snprintf(out, outlen, "%s/%s", r, rel);
    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* True if this network namespace has no interface but lo: what unshare -n
 * makes, and never the host's. */
static bool only_loopback(void)
{
    FILE *f = fopen("/proc/self/net/dev", "r");
    char line[512];
    int lineno = 0;
    bool only_lo = f != NULL;

    while (f && fgets(line, sizeof(line), f)) {
        char *p = line;
        if (++lineno <= 2)
            continue; /* the two header lines */
        while (*p == ' ')
            p++;
        if (strncmp(p, "lo:", 3) != 0)
            only_lo = false;
    }
    if (f)
        fclose(f);
    return only_lo;
}

bool root_may_touch_network(void)
{
    struct stat self, init;

    if (root_is_system())
        return true;
    /* Another root: only inside a network namespace of its own (the tests
     * run under unshare -n), never the host's firewall or interfaces. In a
     * container /proc/1/ns may be closed to us; then a namespace with
     * nothing but lo is taken as private. */
    if (stat("/proc/self/ns/net", &self) == 0 && stat("/proc/1/ns/net", &init) == 0)
        return self.st_ino != init.st_ino || self.st_dev != init.st_dev;
    return only_loopback();
}

static double now_mono(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* root_run and root_run_fd: in_fd >= 0 becomes the child's stdin, else
 * input (may be NULL) is written to it through a pipe. */
static int run_child(const char *const argv[], const char *const envp[], int in_fd,
                     const char *input, double timeout, char **out, size_t *outlen, char *err,
                     size_t errlen)
{
    int pin[2] = {-1, -1}, pout[2] = {-1, -1};
    posix_spawn_file_actions_t fa;
    char *buf = NULL;
    size_t len = 0, cap = 0, inlen = input ? strlen(input) : 0, inoff = 0;
    pid_t pid;
    int status = 0, rc;
    double deadline = now_mono() + timeout;
    bool timed_out = false;
    static const char *const empty_env[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL};

    if (out)
        *out = NULL;
    if (outlen)
        *outlen = 0;
    if (pipe2(pin, O_CLOEXEC) != 0 || pipe2(pout, O_CLOEXEC) != 0) {
        snprintf(err, errlen, "%s: pipe: %s", argv[0], strerror(errno));
        goto fail_pipes;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in_fd >= 0 ? in_fd : pin[0], 0);
    posix_spawn_file_actions_adddup2(&fa, pout[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pout[1], 2);
    rc = posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv,
                     (char *const *)(envp ? envp : empty_env));
    posix_spawn_file_actions_destroy(&fa);
    close(pin[0]);
    close(pout[1]);
    pin[0] = pout[1] = -1;
    if (rc != 0) {
        snprintf(err, errlen, "%s: cannot run: %s", argv[0], strerror(rc));
        goto fail_pipes;
    }
    fcntl(pin[1], F_SETFL, O_NONBLOCK);
    if (inlen == 0 || in_fd >= 0) {
        close(pin[1]);
        pin[1] = -1;
    }
    signal(SIGPIPE, SIG_IGN);
    for (;;) {
        struct pollfd pf[2] = {{pout[0], POLLIN, 0}, {pin[1], POLLOUT, 0}};
        double left = deadline - now_mono();
        int n;

        if (left <= 0) {
            timed_out = true;
            kill(pid, SIGKILL);
            break;
        }
        n = poll(pf, pin[1] >= 0 ? 2 : 1, (int)(left * 1000) + 1);
        if (n < 0 && errno != EINTR)
            break;
        if (n <= 0)
            continue;
        if (pin[1] >= 0 && (pf[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
            ssize_t w = write(pin[1], input + inoff, inlen - inoff);
            if (w > 0)
                inoff += (size_t)w;
            if (w < 0 || inoff == inlen) {
                close(pin[1]);
                pin[1] = -1;
            }
        }
        if (pf[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            char tmp[4096];
            ssize_t r = read(pout[0], tmp, sizeof(tmp));
            if (r <= 0)
                break;
            if (out != NULL && len + (size_t)r + 1 <= ROOT_RUN_OUTPUT_MAX) {
                if (len + (size_t)r + 1 > cap) {
                    cap = (len + (size_t)r + 1) * 2;
                    char *nb = realloc(buf, cap);
                    if (nb == NULL)
                        abort();
                    buf = nb;
                }
                memcpy(buf + len, tmp, (size_t)r);
                len += (size_t)r;
            }
        }
    }
    close(pout[0]);
    if (pin[1] >= 0)
        close(pin[1]);
    /* the output is closed: the child exits at once, or was killed */
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (buf == NULL && out != NULL) {
        buf = malloc(1);
        if (buf == NULL)
            abort();
    }
    if (buf)
        buf[len] = '\0';
    if (out)
        *out = buf;
    else
        free(buf);
    if (outlen)
        *outlen = len;
    if (timed_out) {
        snprintf(err, errlen, "%s: no answer in %.0f s (stopped)", argv[0], timeout);
        return -1;
    }
    if (WIFSIGNALED(status)) {
        snprintf(err, errlen, "%s: killed by signal %d", argv[0], WTERMSIG(status));
        return -1;
    }
    if (WEXITSTATUS(status) != 0)
        snprintf(err, errlen, "%s: exit status %d", argv[0], WEXITSTATUS(status));
    return WEXITSTATUS(status);

fail_pipes:
    for (int i = 0; i < 2; i++) {
        if (pin[i] >= 0)
            close(pin[i]);
        if (pout[i] >= 0)
            close(pout[i]);
    }
    return -1;
}

int root_run(const char *const argv[], const char *const envp[], const char *input, double timeout,
             char **out, size_t *outlen, char *err, size_t errlen)
{
    return run_child(argv, envp, -1, input, timeout, out, outlen, err, errlen);
}

int root_run_fd(const char *const argv[], const char *const envp[], int in_fd, double timeout,
                char **out, size_t *outlen, char *err, size_t errlen)
{
    return run_child(argv, envp, in_fd, NULL, timeout, out, outlen, err, errlen);
}
