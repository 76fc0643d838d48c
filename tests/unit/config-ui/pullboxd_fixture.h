/* A real pullboxd for the config-ui unit tests (test_selftest.c,
 * test_status.c): started on free 127.0.0.1 ports with a temporary config,
 * key and self-signed certificate (pullboxd --make-cert), stopped by its
 * PID. The binary is $O/pullboxd (tests/run sets O), else out/pullboxd
 * seen from the repository root or from this folder. */
#ifndef PULLBOX_TEST_PULLBOXD_FIXTURE_H
#define PULLBOX_TEST_PULLBOXD_FIXTURE_H

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct pbd {
    pid_t pid;
    int sub, pub, tls; /* ports */
    char dir[64];      /* config, key, certificate, log */
    char bin[512];
};

/* A port the kernel just gave out and took back: free unless another
 * process grabs it in between, which is unlikely enough for a test. */
static int pbd_free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static bool pbd_accepts(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                            .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;

    if (fd >= 0)
        close(fd);
    return ok;
}

static void pbd_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Runs argv to completion (at most 20 s). 0 if it exited 0. */
static int pbd_run(char *const argv[])
{
    pid_t pid = fork();
    int st = 0;

    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        execv(argv[0], argv);
        _exit(127);
    }
    for (int i = 0; i < 2000; i++) {
        if (waitpid(pid, &st, WNOHANG) == pid)
            return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
        pbd_sleep_ms(10);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return -1;
}

static bool pbd_find_binary(struct pbd *p)
{
    const char *o = getenv("O");
    const char *cands[] = {"out/pullboxd", "../../../out/pullboxd"};

    if (o) {
        snprintf(p->bin, sizeof p->bin, "%s/pullboxd", o);
        if (access(p->bin, X_OK) == 0)
            return true;
    }
    for (size_t i = 0; i < 2; i++)
        if (access(cands[i], X_OK) == 0) {
            snprintf(p->bin, sizeof p->bin, "%s", cands[i]);
            return true;
        }
    return false;
}

/* Starts pullboxd with the key and algo ("sha1"/"sha256"), plain and TLS
 * subscribe ports and a publish port. Returns 0 once all three accept (at
 * most 10 s), or -1 with a note. */
static int pbd_start(struct pbd *p, const char *key, const char *algo)
{
    char conf[128], cert[128], keyf[128], log[128];
    FILE *f;

    memset(p, 0, sizeof *p);
    if (!pbd_find_binary(p)) {
        printf("# no pullboxd binary: make server (or set O)\n");
        return -1;
    }
    snprintf(p->dir, sizeof p->dir, "/tmp/pbd-XXXXXX");
    if (!mkdtemp(p->dir))
        return -1;
    snprintf(conf, sizeof conf, "%s/pullbox.conf", p->dir);
    snprintf(cert, sizeof cert, "%s/cert.pem", p->dir);
    snprintf(keyf, sizeof keyf, "%s/key.pem", p->dir);
    snprintf(log, sizeof log, "%s/log", p->dir);
    if (pbd_run((char *const[]){p->bin, "--make-cert", cert, keyf, "pullbox.test,127.0.0.1",
                                NULL}) != 0) {
        printf("# pullboxd --make-cert failed\n");
        return -1;
    }
    p->sub = pbd_free_port();
    p->pub = pbd_free_port();
    p->tls = pbd_free_port();
    f = fopen(conf, "w");
    if (!f)
        return -1;
    fprintf(f,
            "listen-subscribe = 127.0.0.1:%d\nlisten-publish = 127.0.0.1:%d\n"
            "listen-subscribe-tls = 127.0.0.1:%d\ntls-certificate = %s\ntls-key = %s\n"
            "signature-key = %s\nsignature-algorithm = %s\nlog-level = warn\n",
            p->sub, p->pub, p->tls, cert, keyf, key, algo);
    fclose(f);
    p->pid = fork();
    if (p->pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);

        /* a test that dies (a failed assertion under ASan, ^C) takes its
         * pullboxd with it */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        dup2(fd, 1);
        dup2(fd, 2);
        execl(p->bin, p->bin, "-c", conf, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 1000; i++) {
        int st;

        if (pbd_accepts(p->pub) && pbd_accepts(p->sub) && pbd_accepts(p->tls))
            return 0;
        if (waitpid(p->pid, &st, WNOHANG) == p->pid) {
            printf("# pullboxd exited at start; see %s\n", log);
            p->pid = 0;
            return -1;
        }
        pbd_sleep_ms(10);
    }
    printf("# pullboxd did not listen within 10 s\n");
    return -1;
}

/* SIGTERM, then SIGKILL after 5 s; waits for it either way. */
static void pbd_stop(struct pbd *p)
{
    int st;

    if (p->pid <= 0)
        return;
    kill(p->pid, SIGTERM);
    for (int i = 0; i < 500; i++) {
        if (waitpid(p->pid, &st, WNOHANG) == p->pid) {
            p->pid = 0;
            return;
        }
        pbd_sleep_ms(10);
    }
    kill(p->pid, SIGKILL);
    waitpid(p->pid, &st, 0);
    p->pid = 0;
}

/* Stops it and removes its folder. */
static void pbd_cleanup(struct pbd *p)
{
    const char *names[] = {"pullbox.conf", "cert.pem", "key.pem", "log"};
    char path[128];

    pbd_stop(p);
    if (!p->dir[0])
        return;
    for (size_t i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s", p->dir, names[i]);
        unlink(path);
    }
    rmdir(p->dir);
    p->dir[0] = '\0';
}

#endif
