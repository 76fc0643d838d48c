/* Following a change: sv for the services under <root>/var/service, the
 * firewall script, the host name; and the work deferred until the answer
 * is written. */
#include "apply.h"

#include "fileio.h"
#include "root.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SV_TIMEOUT 30

static const char *sv_binary(void)
{
    static const char *const dirs[] = {"/usr/bin/sv", "/usr/sbin/sv", "/bin/sv", "/sbin/sv"};

    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
        if (access(dirs[i], X_OK) == 0)
            return dirs[i];
    return dirs[0];
}

bool service_exists(const char *name)
{
    char rel[128], path[PATH_MAX];
    struct stat st;

    snprintf(rel, sizeof(rel), "%s/%s", PATH_SERVICES, name);
    return root_path(path, sizeof(path), rel) == 0 && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The last line of a program's output, for a step's detail. */
static const char *last_line(char *out)
{
    size_t n = out ? strlen(out) : 0;

    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' '))
        out[--n] = '\0';
    if (n == 0)
        return "";
    char *nl = strrchr(out, '\n');
    return nl ? nl + 1 : out;
}

bool service_sv(struct result *res, const char *verb, const char *name)
{
    char rel[128], path[PATH_MAX], what[64], err[256], *out = NULL;
    int rc;

    snprintf(what, sizeof(what), "%s %s", verb, name);
    snprintf(rel, sizeof(rel), "%s/%s", PATH_SERVICES, name);
    if (root_path(path, sizeof(path), rel) != 0 || !service_exists(name)) {
        if (!root_is_system()) {
            step(res, true, what, "skipped: no %s service under %s", name, root_dir());
            return true;
        }
        step(res, false, what, "the %s service is not installed", name);
        return false;
    }
    const char *argv[] = {sv_binary(), "-w", "20", verb, path, NULL};
    rc = root_run(argv, NULL, NULL, SV_TIMEOUT, &out, NULL, err, sizeof(err));
    if (rc == 0)
        step(res, true, what, "%.200s", last_line(out));
    else
        step(res, false, what, "%.120s %.120s", err, last_line(out));
    free(out);
    return rc == 0;
}

/* runsv's own word on the service: supervise/stat is "run", "down", ... */
static bool service_running(const char *name)
{
    char rel[128], path[PATH_MAX], *s, err[64];
    bool up;

    snprintf(rel, sizeof(rel), "%s/%s/supervise/stat", PATH_SERVICES, name);
    if (root_path(path, sizeof(path), rel) != 0 ||
        file_read_all(path, 64, &s, err, sizeof(err)) < 0)
        return false;
    up = strncmp(s, "run", 3) == 0;
    free(s);
    return up;
}

bool service_reload_pullboxd(struct result *res)
{
    if (service_running("pullboxd"))
        return service_sv(res, "hup", "pullboxd");
    return service_sv(res, "restart", "pullboxd");
}

/* pullbox-firewall's outcome per family ("IPv4: ...", "IPv6: ..." lines):
 * what the admin must read when a rule set did not load. */
static void firewall_outcome(const char *out, char *buf, size_t len)
{
    size_t used = 0;

    buf[0] = '\0';
    for (const char *p = out ? out : ""; *p;) {
        size_t n = strcspn(p, "\n");
        if (n > 6 && strncmp(p, "IPv", 3) == 0 && p[4] == ':' && used < len)
            used += (size_t)snprintf(buf + used, len - used, "%s%.*s", used ? "; " : "", (int)n, p);
        p += n + (p[n] == '\n');
    }
}

static void firewall_apply(struct result *res)
{
    char prog[PATH_MAX], envroot[PATH_MAX + 16], err[256], outcome[400], *out = NULL;
    int rc;

    if (!root_may_touch_network()) {
        step(res, true, "firewall",
             "skipped: %s is not the system root and this is the host's network namespace",
             root_dir());
        return;
    }
    root_path(prog, sizeof(prog), PATH_SBIN "/pullbox-firewall");
    snprintf(envroot, sizeof(envroot), "PULLBOX_ROOT=%s", root_dir());
    const char *argv[] = {prog, "apply", NULL};
    const char *envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", envroot, NULL};
    rc = root_run(argv, envp, NULL, 30, &out, NULL, err, sizeof(err));
    if (rc == 0)
        step(res, true, "firewall", "rules loaded from %s", PATH_FIREWALL_CONF);
    else {
        firewall_outcome(out, outcome, sizeof(outcome));
        step(res, false, "firewall", "%.100s %.300s", err, outcome[0] ? outcome : last_line(out));
    }
    free(out);
}

static void hostname_apply(const struct settings *st, struct result *res)
{
    if (!root_is_system()) {
        step(res, true, "host name", "written (the kernel's name changes on the appliance only)");
        return;
    }
    if (sethostname(st->v[S_HOSTNAME], strlen(st->v[S_HOSTNAME])) != 0)
        step(res, false, "host name", "sethostname: %s", strerror(errno));
    else
        step(res, true, "host name", "now %s", st->v[S_HOSTNAME]);
}

void service_follow(struct apply *a, const bool changed[RF__COUNT], struct result *res)
{
    struct settings st;
    char path[PATH_MAX], err[256];

    if (a->first_boot) {
        /* stage 1: the services start later, with the files just rendered */
        step(res, true, "services", "they start with the new settings");
        return;
    }
    /* Redis first: a hub's pullboxd connects to it when it starts. Without
     * redis.conf the service puts itself down at its next start; "down"
     * stops the running one now (a restart would wait for an "up" that
     * never comes). */
    if (changed[RF_REDIS]) {
        root_path(path, sizeof(path), PATH_REDIS_CONF);
        service_sv(res, access(path, F_OK) == 0 ? "restart" : "down", "redis");
    }
    if (changed[RF_PULLBOX] && a->restart_pullboxd)
        service_sv(res, "restart", "pullboxd");
    else if (changed[RF_PULLBOX])
        service_reload_pullboxd(res);
    if (changed[RF_FIREWALL])
        firewall_apply(res);
    if (changed[RF_NETWORK])
        service_sv(res, "restart", "network");
    if (changed[RF_NTP])
        service_sv(res, "restart", "ntpd");
    if (changed[RF_DROPBEAR])
        service_sv(res, "restart", "dropbear");
    if (changed[RF_HOSTNAME]) {
        root_path(path, sizeof(path), PATH_SETTINGS);
        if (settings_load(&st, path, err, sizeof(err)) == 0)
            hostname_apply(&st, res);
    }
}

static void run_later(const char *const argv[])
{
    pid_t pid = fork();

    if (pid != 0)
        return; /* reaped by the main loop */
    /* the child: let the tool read its answer (and lighttpd send it) first */
    sleep(1);
    execve(argv[0], (char *const *)argv,
           (char *const[]){"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL});
    _exit(127);
}

void service_run_later(unsigned later)
{
    char path[PATH_MAX];

    if (later & LATER_LIGHTTPD && service_exists("lighttpd")) {
        char rel[128];
        snprintf(rel, sizeof(rel), "%s/lighttpd", PATH_SERVICES);
        root_path(path, sizeof(path), rel);
        const char *argv[] = {sv_binary(), "-w", "20", "restart", path, NULL};
        run_later(argv);
    }
    if (later & (LATER_REBOOT | LATER_POWEROFF)) {
        root_path(path, sizeof(path), later & LATER_REBOOT ? "sbin/reboot" : "sbin/poweroff");
        const char *argv[] = {path, NULL};
        run_later(argv);
    }
}
