/* pullbox-apply: takes change requests from the spool folder, oldest first,
 * validates them again with the settings library, applies them and answers.
 *
 *   pullbox-apply --serve   the runit service: poll the spool every 100 ms
 *   pullbox-apply --once    answer the pending requests, then exit (tests)
 *   pullbox-apply --render  render every file from the current settings and
 *                           secrets (first boot: makes both when missing);
 *                           publish the certificate for the wizard
 *   pullbox-apply --seed ovf FILE | nocloud DIR
 *                           first boot: the settings that came with the VM
 *                           (seed.c)
 *   pullbox-apply --fix-owners  the folders and files root reads become
 *                           root's again (each boot, before anything reads them)
 *   pullbox-apply --submit [--timeout S] OP [KEY=VALUE | KEY<FILE]...
 *                           write a request, wait for its result, print it
 *                           (tests and scripts; exit 0 ok, 1 refused)
 */
#include "apply.h"

#include "fileio.h"
#include "root.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define USAGE                                                                                      \
    "usage: pullbox-apply --serve | --once | --render | --fix-owners\n"                            \
    "       pullbox-apply --seed ovf FILE | --seed nocloud DIR\n"                                  \
    "       pullbox-apply --submit [--timeout SECONDS] OP [KEY=VALUE | KEY<FILE]...\n"

static volatile sig_atomic_t stop_requested;

static void on_term(int sig)
{
    (void)sig;
    stop_requested = 1;
}

void apply_log(const char *fmt, ...)
{
    va_list ap;

    fputs(PROG ": ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void step(struct result *res, bool ok, const char *what, const char *fmt, ...)
{
    struct result_step *s;
    va_list ap;

    if (!ok)
        res->ok = false;
    if (res->nsteps >= RESULT_MAX_STEPS)
        s = &res->steps[RESULT_MAX_STEPS - 1]; /* the last slot keeps the latest */
    else
        s = &res->steps[res->nsteps++];
    snprintf(s->what, sizeof(s->what), "%s", what);
    s->ok = ok;
    va_start(ap, fmt);
    vsnprintf(s->detail, sizeof(s->detail), fmt, ap);
    va_end(ap);
}

void refuse(struct result *res, int field, const char *fmt, ...)
{
    va_list ap;

    res->ok = false;
    res->field = field;
    va_start(ap, fmt);
    vsnprintf(res->message, sizeof(res->message), fmt, ap);
    va_end(ap);
}

static const struct {
    const char *op;
    op_fn *fn;
} ops[] = {
    {"settings", op_settings},
    {"network-confirm", op_network_confirm},
    {"rotate-key", op_rotate_key},
    {"claim", op_claim},
    {"password", op_password},
    {"ssh-key-add", op_ssh_key_add},
    {"ssh-key-remove", op_ssh_key_remove},
    {"ssh-key-list", op_ssh_key_list},
    {"cert-upload", op_cert_upload},
    {"cert-self-signed", op_cert_self_signed},
    {"service", op_service},
    {"factory-reset", op_factory_reset},
    {"reboot", op_reboot},
    {"poweroff", op_poweroff},
    {"restore", op_restore},
    {"backup", op_backup},
    {"update-status", op_update_status},
    {"update-install", op_update_install},
};

static long spool_group(void)
{
    char dir[PATH_MAX];
    struct stat st;

    if (root_path(dir, sizeof(dir), PATH_SPOOL) != 0 || stat(dir, &st) != 0)
        return -1;
    return (long)st.st_gid;
}

static double confirm_timeout(void)
{
    const char *e = getenv("PULLBOX_NETWORK_CONFIRM_TIMEOUT");
    char *end;
    double t;

    if (e == NULL || *e == '\0')
        return 120;
    t = strtod(e, &end);
    return *end == '\0' && t >= 1 && t <= 3600 ? t : 120;
}

static void init_apply(struct apply *a)
{
    memset(a, 0, sizeof(*a));
    a->gid = spool_group();
    a->confirm_timeout = confirm_timeout();
    a->now = (long long)time(NULL);
}

void apply_init(struct apply *a)
{
    init_apply(a);
}

/* The request being applied is named in PATH_APPLY_CURRENT: should the
 * service die on it, the next start answers it as failed instead of taking
 * it again (and again). */
static void mark_current(const char *id)
{
    char path[PATH_MAX], err[256];

    root_path(path, sizeof(path), PATH_APPLY_CURRENT);
    if (id)
        file_write_atomic(path, id, strlen(id), 0600, err, sizeof(err));
    else
        unlink(path);
}

static void answer_interrupted(void)
{
    char path[PATH_MAX], *id, err[256];
    struct result res;

    root_path(path, sizeof(path), PATH_APPLY_CURRENT);
    if (file_read_all(path, 64, &id, err, sizeof(err)) < 0)
        return;
    if (spool_id_valid(id)) {
        memset(&res, 0, sizeof(res));
        res.field = -1;
        snprintf(res.message, sizeof(res.message),
                 "pullbox-apply stopped while applying this request: nothing more was done "
                 "(its log, var/log/pullbox-apply, says why)");
        apply_log("%s: interrupted by a stop of the service: answered as failed", id);
        if (spool_answer(id, &res, err, sizeof(err)) != 0)
            spool_discard(id);
    }
    free(id);
    unlink(path);
}

/* Takes one request: every failure becomes a result. */
static void handle(const char *id)
{
    struct apply a;
    struct request r;
    struct result res;
    char err[512];
    op_fn *fn = NULL;

    init_apply(&a);
    a.id = id;
    memset(&res, 0, sizeof(res));
    res.ok = true;
    res.field = -1;
    mark_current(id);
    if (spool_read(id, &r, err, sizeof(err)) != 0) {
        refuse(&res, -1, "%s", err);
    } else {
        for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
            if (strcmp(ops[i].op, r.op) == 0)
                fn = ops[i].fn;
        if (fn == NULL)
            refuse(&res, -1, "unknown operation %.32s", r.op);
        else
            fn(&a, &r, &res);
    }
    if (res.ok && res.message[0] == '\0')
        snprintf(res.message, sizeof(res.message), "Done.");
    else if (!res.ok && res.message[0] == '\0') {
        for (size_t i = 0; i < res.nsteps; i++)
            if (!res.steps[i].ok) {
                snprintf(res.message, sizeof(res.message), "%s failed: %s", res.steps[i].what,
                         res.steps[i].detail);
                break;
            }
    }
    apply_log("%s %s: %s: %s", id, r.op[0] ? r.op : "?", res.ok ? "ok" : "not ok", res.message);
    if (spool_answer(id, &res, err, sizeof(err)) != 0) {
        apply_log("cannot answer %s: %s", id, err);
        spool_discard(id);
    }
    mark_current(NULL);
    request_free(&r);
    service_run_later(a.later);
}

static void reap_children(void)
{
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
}

static void process_pending(void)
{
    char id[64];
    int budget = 1000; /* bounded: a flood waits for the next turn */

    while (!stop_requested && budget-- > 0 && spool_next(id, sizeof(id)) == 1)
        handle(id);
}

static void tick(void)
{
    struct apply a;
    static time_t last_clean;

    init_apply(&a);
    network_tick(&a);
    keys_tick(&a);
    if (time(NULL) - last_clean >= 60) {
        last_clean = time(NULL);
        spool_clean(3600);
    }
    reap_children();
}

#ifdef __SANITIZE_ADDRESS__
/* The sanitizer build (the tests'): LeakSanitizer's check at exit stops
 * this process with ptrace, that is with a SIGSTOP. runsv follows each
 * TERM with a CONT, and a CONT discards a pending SIGSTOP: when it lands
 * after the checker attached, the checker waits for a stop that never
 * comes and the process spins for good ("want down, got TERM"). runsv
 * writes its status files between the two kills, so on a busy machine the
 * CONT comes late. This build therefore exits only after the CONT (or
 * after two seconds without one). */
static volatile sig_atomic_t cont_seen;

static void on_cont(int sig)
{
    (void)sig;
    cont_seen = 1;
}

static void await_cont(void)
{
    struct timespec two = {2, 0};
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGCONT);
    sigprocmask(SIG_BLOCK, &set, NULL);
    if (!cont_seen)
        sigtimedwait(&set, NULL, &two);
}
#endif

static int serve(bool once)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
#ifdef __SANITIZE_ADDRESS__
    sa.sa_handler = on_cont;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGCONT, &sa, NULL);
#endif
    if (!once)
        apply_log("serving %s/%s", root_dir(), PATH_SPOOL);
    answer_interrupted();
    tick();
    while (!stop_requested) {
        process_pending();
        tick();
        if (once)
            break;
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (!once)
        apply_log("stopped");
#ifdef __SANITIZE_ADDRESS__
    if (!once)
        await_cont();
#endif
    return 0;
}

/* First boot (and the tests' first boot): settings and secrets are made
 * when missing, then every file is rendered. */
static int render_only(void)
{
    struct apply a;
    struct settings st;
    struct secrets sec;
    char path[PATH_MAX], err[512];
    bool changed[RF__COUNT];
    int made = 0;

    init_apply(&a);
    root_path(path, sizeof(path), PATH_SETTINGS);
    if (access(path, F_OK) != 0) {
        settings_defaults(&st);
        if (settings_save_owned(&st, path, 0640, a.gid, err, sizeof(err)) != 0)
            goto fail;
    } else if (settings_load(&st, path, err, sizeof(err)) != 0)
        goto fail;
    root_path(path, sizeof(path), PATH_SECRETS);
    if (secrets_load(&sec, path, err, sizeof(err)) != 0)
        goto fail;
    if (sec.signature_key[0] == '\0') {
        if (secrets_new_key(sec.signature_key) != 0) {
            snprintf(err, sizeof(err), "no random bytes for a signing key");
            goto fail;
        }
        made = 1;
    }
    switch (state_cluster_secrets(&st, &sec)) {
    case -1:
        snprintf(err, sizeof(err), "no random bytes for the hub's Redis password");
        goto fail;
    case 1:
        made = 1;
    }
    if (made > 0 && secrets_save_owned(&sec, path, 0640, a.gid, err, sizeof(err)) != 0)
        goto fail;
    if (hub_tls_ensure(&st, err, sizeof(err)) < 0)
        goto fail;
    if (render_all(&st, &sec, a.now, changed, err, sizeof(err)) != 0)
        goto fail;
    for (int f = 0; f < RF__COUNT; f++)
        if (changed[f])
            printf("rendered %s\n", render_file_path((enum render_file)f));
    /* the certificate the boot may just have made */
    if (cert_publish(err, sizeof(err)) != 0)
        goto fail;
    return 0;
fail:
    fprintf(stderr, PROG ": %s\n", err);
    return 111;
}

static int submit(int argc, char **argv)
{
    struct request r;
    struct result res;
    double timeout = 60;
    char err[512];
    int i = 0, rc;

    if (argc >= 2 && strcmp(argv[0], "--timeout") == 0) {
        timeout = atof(argv[1]);
        i = 2;
    }
    if (i >= argc) {
        fputs(USAGE, stderr);
        return 100;
    }
    request_init(&r, argv[i++]);
    for (; i < argc; i++) {
        char *eq = strchr(argv[i], '='), *lt = strchr(argv[i], '<');
        char key[REQUEST_KEY_MAX];

        if (lt && (!eq || lt < eq)) {
            char *data;
            long n;
            snprintf(key, sizeof(key), "%.*s", (int)(lt - argv[i]), argv[i]);
            n = file_read_all(lt + 1, REQUEST_MAX_BYTES, &data, err, sizeof(err));
            if (n < 0) {
                fprintf(stderr, PROG ": %s\n", err);
                request_free(&r);
                return 111;
            }
            rc = request_add(&r, key, data, (size_t)n);
            free(data);
        } else if (eq) {
            snprintf(key, sizeof(key), "%.*s", (int)(eq - argv[i]), argv[i]);
            rc = request_add(&r, key, eq + 1, strlen(eq + 1));
        } else {
            rc = -1;
        }
        if (rc != 0) {
            fprintf(stderr, PROG ": bad argument %s\n" USAGE, argv[i]);
            request_free(&r);
            return 100;
        }
    }
    rc = spool_call(&r, timeout, &res, err, sizeof(err));
    request_free(&r);
    if (rc != 0) {
        fprintf(stderr, PROG ": %s\n", err);
        return 111;
    }
    printf("result: %s\n", res.ok ? "ok" : "refused");
    printf("message: %s\n", res.message);
    if (res.field >= 0 && res.field < S__COUNT)
        printf("field: %s\n", setting_defs[res.field].key);
    for (size_t s = 0; s < res.nsteps; s++)
        printf("step: %s %s: %s\n", res.steps[s].ok ? "ok" : "FAILED", res.steps[s].what,
               res.steps[s].detail);
    return res.ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    char err[256];

    if (root_check(err, sizeof(err)) != 0) {
        fprintf(stderr, PROG ": %s\n", err);
        return 100;
    }
    umask(027);
    if (argc == 2 && strcmp(argv[1], "--serve") == 0)
        return serve(false);
    if (argc == 2 && strcmp(argv[1], "--once") == 0)
        return serve(true);
    if (argc == 2 && strcmp(argv[1], "--render") == 0)
        return render_only();
    if (argc >= 2 && strcmp(argv[1], "--seed") == 0)
        return seed_main(argc - 2, argv + 2);
    if (argc == 2 && strcmp(argv[1], "--fix-owners") == 0)
        return owners_fix(spool_group()) == 0 ? 0 : 111;
    if (argc >= 3 && strcmp(argv[1], "--submit") == 0) {
        umask(007);
        return submit(argc - 2, argv + 2);
    }
    fputs(USAGE, stderr);
    return 100;
}
