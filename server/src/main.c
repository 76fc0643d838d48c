#include "first.h"

#include "config.h"
#include "log.h"
#include "server.h"
#include "tls.h"
#include "util.h"
#include "worker.h"

#include <errno.h>
#include <grp.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <openssl/rand.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define USAGE                                                                                      \
    "usage: pullboxd -c FILE            run with the config FILE\n"                                \
    "       pullboxd --check-config -c FILE\n"                                                     \
    "       pullboxd --print-config [--generate-key]\n"                                            \
    "                                  print a commented default config\n"                         \
    "       pullboxd --make-cert CERT KEY [NAMES]\n"                                               \
    "                                  write a self-signed certificate and key for NAMES\n"        \
    "                                  (host names and addresses, comma-separated; default:\n"     \
    "                                  this machine's name and addresses)\n"                       \
    "       pullboxd --version\n"

static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static int drop_privileges(const char *user)
{
    if (!user[0] || geteuid() != 0)
        return 0;
    struct passwd *pw = getpwnam(user);
    if (!pw) {
        log_err("user: no such user \"%s\"", user);
        return -1;
    }
    if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
        log_syserr("user: cannot switch to \"%s\"", user);
        return -1;
    }
    log_info("running as %s", user);
    return 0;
}

static int print_config(bool generate_key)
{
    char key[65] = "";
    if (generate_key) {
        uint8_t rnd[32];
        if (RAND_bytes(rnd, sizeof rnd) != 1) {
            fprintf(stderr, "pullboxd: no randomness for a key\n");
            return 111;
        }
        hex_encode(rnd, sizeof rnd, key);
    }
    config_print(stdout, generate_key ? key : NULL);
    return 0;
}

/* glibc gives the top of the heap back to the kernel whenever more than its
 * trim threshold (128 KiB, or adapted upward) is free there. A loop turn
 * under load allocates its messages and encodings and frees what it does
 * not keep at its end, so glibc shrank and regrew the heap nearly every turn
 * (C1 at 20k/s: 263 brk calls a second; 16 with these settings). The price:
 * up to 8 MiB freed at the top stays resident (M1's idle bytes per
 * connection read about 705 with this, 645 before: handshake buffers
 * freed last stay).
 * musl's allocator has no such threshold to set. */
static void keep_heap_top(void)
{
#ifdef __GLIBC__
    mallopt(M_TRIM_THRESHOLD, 8 << 20);
    mallopt(M_TOP_PAD, 1 << 20);
#endif
}

#ifdef __SANITIZE_ADDRESS__
/* The sanitizer build (the tests'): LeakSanitizer's check at exit stops
 * every thread with ptrace, that is with a SIGSTOP each. runsv follows its
 * TERM with a CONT, and a CONT discards a SIGSTOP not yet taken: when it
 * lands while the checker attaches, the checker waits in wait4 for a stop
 * that never comes and the process spins with SIGTERM blocked (62-apply
 * under load, about one run in three: pullboxd alive minutes after
 * "stopped"). Under runsv this build therefore returns only after that
 * CONT, or two seconds without it. Other parents send no CONT: no wait. */
static volatile sig_atomic_t cont_seen;

static void on_cont(int sig)
{
    (void)sig;
    cont_seen = 1;
}

static void watch_cont(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_cont;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGCONT, &sa, NULL);
}

static bool parent_is_runsv(void)
{
    char path[64], comm[32] = "";
    snprintf(path, sizeof path, "/proc/%ld/comm", (long)getppid());
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    bool yes = fgets(comm, sizeof comm, f) && strcmp(comm, "runsv\n") == 0;
    fclose(f);
    return yes;
}

static void await_cont(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCONT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    struct timespec two = {2, 0};
    if (!cont_seen && parent_is_runsv())
        sigtimedwait(&set, NULL, &two);
}
#endif

int main(int argc, char **argv)
{
    const char *path = NULL;
    bool check = false, print = false, genkey = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
            path = argv[++i];
        else if (strcmp(argv[i], "--check-config") == 0)
            check = true;
        else if (strcmp(argv[i], "--print-config") == 0)
            print = true;
        else if (strcmp(argv[i], "--generate-key") == 0)
            genkey = true;
        else if (strcmp(argv[i], "--make-cert") == 0) {
            if (i + 2 >= argc) {
                fputs(USAGE, stderr);
                return 100;
            }
            char *names = i + 3 < argc ? xstrdup(argv[i + 3]) : tls_default_names();
            char err[512];
            int rc = tls_make_cert(argv[i + 1], argv[i + 2], names, 3650, err, sizeof err);
            if (rc != 0)
                fprintf(stderr, "pullboxd: --make-cert: %s\n", err);
            else
                printf("pullboxd: wrote %s and %s for %s\n", argv[i + 1], argv[i + 2], names);
            free(names);
            return rc == 0 ? 0 : 111;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("pullboxd %s\n", PULLBOX_VERSION);
            return 0;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(USAGE, stdout);
            return 0;
        } else {
            fprintf(stderr, "pullboxd: unknown argument \"%s\"\n%s", argv[i], USAGE);
            return 100;
        }
    }
    if (print)
        return print_config(genkey);
    if (!path) {
        fputs(USAGE, stderr);
        return 100;
    }
    struct config cfg;
    char err[512];
    if (config_load(path, &cfg, err, sizeof err) != 0) {
        fprintf(stderr, "pullboxd: %s\n", err);
        return 1;
    }
    if (check) {
        printf("pullboxd: %s: configuration OK\n", path);
        config_free(&cfg);
        return 0;
    }
    signal(SIGPIPE, SIG_IGN);
#ifdef __SANITIZE_ADDRESS__
    watch_cont();
#endif
    raise_fd_limit();
    keep_heap_top();
    struct ev_loop *loop = ev_default_loop(EVFLAG_AUTO);
    if (!loop) {
        fprintf(stderr, "pullboxd: cannot initialise libev\n");
        return 111;
    }
    static struct server srv;
    char *user = xstrdup(cfg.user);
    if (server_init(&srv, loop, &cfg, err, sizeof err) != 0) {
        log_err("%s", err);
        free(user);
        return 1;
    }
    srv.config_path = xstrdup(path);
    /* before privileges go: the workers' sockets join ports bound as root */
    if (server_start_workers(&srv, err, sizeof err) != 0) {
        log_err("%s", err);
        return 1;
    }
    if (drop_privileges(user) != 0) {
        free(user);
        server_deinit(&srv);
        return 1;
    }
    free(user);
    log_info("pullboxd %s ready", PULLBOX_VERSION);
    ev_run(loop, 0);
    /* a second SIGTERM while the workers finish and memory is freed (the
     * watchers are stopped then, which restores the default action) must
     * not kill the process half-way: it stays pending until exit */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    server_stop_workers(&srv);
    log_info("stopped");
    server_deinit(&srv);
    free(srv.config_path);
    ev_loop_destroy(loop);
#ifdef __SANITIZE_ADDRESS__
    await_cont();
#endif
    return 0;
}
