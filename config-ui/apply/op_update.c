/* update-status and update-install (update.h): root's side of installing
 * an update bundle. The bundle is opened here, folder by folder and
 * without following a link, from one of the fixed source folders; the
 * verifier reads it through that descriptor, so every refusal (signature,
 * tampered part, truncation, product, downgrade, space) is given before
 * the installer is asked for anything. The installer checks it all again
 * on its own copy. */
#include "apply.h"

#include "fileio.h"
#include "root.h"
#include "update.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define VERIFY_TIMEOUT 600.0  /* 384 MiB hashed on a slow disk */
#define INSTALL_TIMEOUT 900.0 /* copy, verify, write and check the other slot */
#define STATUS_TIMEOUT 10.0

/* PATH, and the settings root when it is not "/" (the tests'). */
static const char *const *child_env(void)
{
    static char rootvar[PATH_MAX + 16];
    static const char *env[3];
    env[0] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
    env[1] = NULL;
    if (!root_is_system()) {
        snprintf(rootvar, sizeof(rootvar), "PULLBOX_ROOT=%s", root_dir());
        env[1] = rootvar;
    }
    env[2] = NULL;
    return env;
}

/* The first line of out that starts with prefix after "program: ", or the
 * last non-empty line: what a tool says when it refuses. */
static void one_line(const char *out, char *line, size_t size)
{
    const char *best = NULL, *p = out;
    size_t best_len = 0;
    while (*p) {
        size_t n = strcspn(p, "\n");
        if (n > 0) {
            const char *r = memmem(p, n, "refused: ", 9);
            if (r || !best || !memmem(best, best_len, "refused: ", 9)) {
                best = r ? r + 9 : p;
                best_len = n - (size_t)(best - p);
            }
        }
        p += n + (p[n] == '\n');
    }
    snprintf(line, size, "%.*s", (int)best_len, best ? best : "");
}

void op_update_status(struct apply *a, const struct request *r, struct result *res)
{
    char tool[PATH_MAX], err[256], *out = NULL;
    size_t len = 0;
    struct update_status st;
    (void)a;
    (void)r;
    root_path(tool, sizeof(tool), PATH_UPDATE_TOOL);
    if (access(tool, X_OK) != 0) {
        refuse(res, -1, "The slot installer (pullbox-update) is not part of this system.");
        return;
    }
    const char *argv[] = {tool, "status", NULL};
    int rc = root_run(argv, child_env(), NULL, STATUS_TIMEOUT, &out, &len, err, sizeof(err));
    if (rc != 0 || update_status_parse(out, len, &st) == 0) {
        refuse(res, -1, "pullbox-update status: %s", rc != 0 ? err : "no key=value lines");
        free(out);
        return;
    }
    free(out);
    step(res, true, "slot", "%s", st.slot);
    step(res, true, "version", "%s", st.version);
    step(res, true, "other-slot", "%s", st.other_slot);
    step(res, true, "other-version", "%s", st.other_version);
    step(res, true, "state", "%s", st.state);
    step(res, true, "message", "%s", st.message);
    snprintf(res->message, sizeof(res->message), "Slot %s runs %s.", st.slot, st.version);
}

/* The bundle name in source's folder, opened for reading: a regular file,
 * never through a link. The descriptor, or -1 after refusing res. */
static int open_bundle(const char *source, const char *name, struct result *res)
{
    const char *rel = update_source_dir(source);
    char dir[PATH_MAX];
    struct stat st;
    if (rel == NULL) {
        refuse(res, -1, "Update: the source is upload, home or data");
        return -1;
    }
    if (!update_name_valid(name)) {
        refuse(res, -1,
               "Update: the file name must be a plain name ending in .pbu "
               "(letters, digits, . _ -; at most %d characters)",
               UPDATE_NAME_MAX);
        return -1;
    }
    root_path(dir, sizeof(dir), rel);
    int dfd = file_open_dir(dir);
    if (dfd < 0) {
        refuse(res, -1, "Update: %s: %s", dir,
               errno == ELOOP ? "a link where a folder belongs" : strerror(errno));
        return -1;
    }
    int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    int e = errno;
    close(dfd);
    if (fd < 0) {
        refuse(res, -1, "Update: %s/%s: %s", dir, name,
               e == ELOOP ? "a link, not a file" : strerror(e));
        return -1;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        refuse(res, -1, "Update: %s/%s is not a regular file", dir, name);
        return -1;
    }
    fcntl(fd, F_SETFL, 0); /* blocking reads from here on */
    return fd;
}

/* Runs the verifier on fd. 0 when the bundle is good; -1 after refusing
 * res (kind in the step UPDATE_STEP_REFUSED). *version gets its version. */
static int verify(int fd, bool allow_downgrade, char *version, size_t vsize, struct result *res)
{
    char tool[PATH_MAX], stage[PATH_MAX], err[256], line[400], *out = NULL;
    size_t len = 0;
    const char *argv[8];
    int n = 0;
    root_path(tool, sizeof(tool), PATH_UPDATE_VERIFY);
    root_path(stage, sizeof(stage), PATH_UPDATE_STAGE);
    if (access(stage, F_OK) != 0) /* the installer makes it; until then its file system */
        root_path(stage, sizeof(stage), "data");
    argv[n++] = tool;
    if (allow_downgrade)
        argv[n++] = "--allow-downgrade";
    argv[n++] = "--space";
    argv[n++] = stage;
    argv[n++] = "-";
    argv[n] = NULL;
    int rc = root_run_fd(argv, child_env(), fd, VERIFY_TIMEOUT, &out, &len, err, sizeof(err));
    if (rc == 0) {
        const char *v = strstr(out, "\nversion=");
        snprintf(version, vsize, "%.*s", v ? (int)strcspn(v + 9, "\n") : 0, v ? v + 9 : "");
        step(res, true, "verify", "signed bundle of version %s, every part intact", version);
        free(out);
        return 0;
    }
    one_line(out ? out : "", line, sizeof(line));
    free(out);
    if (rc == 1) {
        /* "KIND: WHY" */
        size_t k = strcspn(line, ":");
        step(res, false, UPDATE_STEP_REFUSED, "%.*s", (int)k, line);
        refuse(res, -1, "Refused (%s). Nothing was installed.", line);
    } else {
        refuse(res, -1, "The bundle could not be checked: %s. Nothing was installed.",
               line[0] ? line : err);
    }
    return -1;
}

void op_update_install(struct apply *a, const struct request *r, struct result *res)
{
    const char *source = request_get(r, "source", NULL), *name = request_get(r, "name", NULL);
    const char *dg = request_get(r, "allow-downgrade", NULL);
    bool allow_downgrade = dg && strcmp(dg, "yes") == 0;
    char version[64], tool[PATH_MAX], path[PATH_MAX], err[256], line[400], *out = NULL;
    size_t len = 0;
    (void)a;
    int fd = open_bundle(source, name, res);
    if (fd < 0)
        return;
    int v = verify(fd, allow_downgrade, version, sizeof(version), res);
    close(fd);
    if (v != 0)
        return;
    root_path(tool, sizeof(tool), PATH_UPDATE_TOOL);
    if (access(tool, X_OK) != 0) {
        refuse(res, -1,
               "The bundle is good, but this system has no slot installer "
               "(pullbox-update): nothing was installed.");
        return;
    }
    /* the installer opens the file itself (O_NOFOLLOW) and checks its own copy */
    snprintf(path, sizeof(path), "%s/%s/%s", root_dir(), update_source_dir(source), name);
    const char *argv[] = {tool, "install", allow_downgrade ? "--allow-downgrade" : path,
                          allow_downgrade ? path : NULL, NULL};
    int rc = root_run(argv, child_env(), NULL, INSTALL_TIMEOUT, &out, &len, err, sizeof(err));
    one_line(out ? out : "", line, sizeof(line));
    /* the installer says "refused: " only before it writes anything (space,
     * parts, its own verification): the admin is told so, as for ours */
    bool untouched = out && strstr(out, "refused: ");
    free(out);
    if (rc != 0) {
        step(res, false, "install", "%s", line[0] ? line : err);
        refuse(res, -1, "The installer refused: %s%s", line[0] ? line : err,
               untouched ? ". Nothing was installed." : "");
        return;
    }
    step(res, true, "install", "%s", line);
    snprintf(res->message, sizeof(res->message), "%s",
             line[0] ? line : "Installed in the other slot; reboot to try it.");
}
