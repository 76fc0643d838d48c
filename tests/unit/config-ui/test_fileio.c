/* Unit tests for config-ui/lib/fileio.c and root.c: atomic writes, bounded
 * reads, the settings root (a relative one is refused), root_run. */
#include "fileio.h"
#include "root.h"

#include "tap.h"

#include <dirent.h>
#include <fcntl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char dir[] = "/tmp/test_fileio-XXXXXX";
static char err[512];

static int entries(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d)))
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

static void test_atomic(void)
{
    char path[256], *data;
    struct stat st;

    snprintf(path, sizeof(path), "%s/f", dir);
    ok(file_write_atomic(path, "one\n", 4, 0640, err, sizeof(err)) == 0, "write");
    ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0640 && st.st_size == 4, "mode and size");
    ok(file_write_atomic(path, "two!\n", 5, 0600, err, sizeof(err)) == 0, "replace");
    ok(file_read_all(path, 100, &data, err, sizeof(err)) == 5 && strcmp(data, "two!\n") == 0,
       "read back");
    free(data);
    ok(entries() == 1, "no temporary file left");
    ok(file_read_all(path, 3, &data, err, sizeof(err)) < 0 && errno == EFBIG &&
           strstr(err, "too large"),
       "larger than max: refused");
    snprintf(path, sizeof(path), "%s/missing", dir);
    ok(file_read_all(path, 3, &data, err, sizeof(err)) < 0 && errno == ENOENT &&
           strstr(err, "missing"),
       "missing: ENOENT, err names the file");
    ok(file_differs(path, "x", 1) == 1, "a missing file differs");
    snprintf(path, sizeof(path), "%s/f", dir);
    ok(file_differs(path, "two!\n", 5) == 0 && file_differs(path, "two?\n", 5) == 1 &&
           file_differs(path, "two!\nmore", 9) == 1,
       "file_differs");
    snprintf(path, sizeof(path), "%s/no/such/dir/f", dir);
    ok(file_write_atomic(path, "x", 1, 0644, err, sizeof(err)) != 0 && strstr(err, path),
       "an error names the file");
}

static void test_root(void)
{
    char out[256];
    pid_t pid;
    int status;

    setenv("PULLBOX_ROOT", "/srv/appliance//", 1);
    ok(strcmp(root_dir(), "/srv/appliance") == 0, "trailing slashes dropped");
    ok(!root_is_system(), "not the system root");
    ok(root_path(out, sizeof(out), "data/etc/settings.conf") == 0 &&
           strcmp(out, "/srv/appliance/data/etc/settings.conf") == 0,
       "root_path");
    ok(root_path(out, 10, "data/etc/settings.conf") != 0, "too long: -1");
    ok(root_check(err, sizeof(err)) == 0, "an absolute root is fine");
    /* the other cases in children, so this process keeps its root */
    pid = fork();
    if (pid == 0) {
        setenv("PULLBOX_ROOT", "relative/dir", 1);
        root_reset();
        _exit(root_check(err, sizeof(err)) != 0 && root_path(out, sizeof(out), "x") != 0 &&
                      !root_is_system() && root_dir()[0] == '/'
                  ? 0
                  : 1);
    }
    waitpid(pid, &status, 0);
    ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "a relative root is refused, and is not /");
    pid = fork();
    if (pid == 0) {
        unsetenv("PULLBOX_ROOT");
        root_reset();
        _exit(root_is_system() && root_path(out, sizeof(out), "data/etc/x") == 0 &&
                      strcmp(out, "/data/etc/x") == 0
                  ? 0
                  : 1);
    }
    waitpid(pid, &status, 0);
    ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "no PULLBOX_ROOT: the system root /");
}

static void test_run(void)
{
    char *out = NULL;
    struct timespec t0, t1;

    const char *echo[] = {"/bin/sh", "-c", "cat; echo err >&2; exit 3", NULL};
    ok(root_run(echo, NULL, "input\n", 10, &out, NULL, err, sizeof(err)) == 3, "exit status");
    ok(out && strcmp(out, "input\nerr\n") == 0, "stdin given, stdout and stderr captured");
    free(out);
    const char *env[] = {"/bin/sh", "-c", "printf %s \"$PATH:$HOME\"", NULL};
    out = NULL;
    root_run(env, NULL, NULL, 10, &out, NULL, err, sizeof(err));
    ok(out && strcmp(out, "/usr/sbin:/usr/bin:/sbin:/bin:") == 0, "a fixed environment");
    free(out);
    const char *slow[] = {"/bin/sleep", "30", NULL};
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ok(root_run(slow, NULL, NULL, 0.3, NULL, NULL, err, sizeof(err)) == -1 &&
           strstr(err, "no answer"),
       "a program that hangs is stopped");
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ok(t1.tv_sec - t0.tv_sec < 10, "within the timeout");
    const char *none[] = {"/no/such/program", NULL};
    ok(root_run(none, NULL, NULL, 5, NULL, NULL, err, sizeof(err)) != 0, "a missing program fails");
}

/* What another user could have left in a folder it can write: root reads,
 * writes and chowns only what is really there, never through a link. */
static void test_links(void)
{
    char pub[256], priv[256], target[256], lnk[256], path[256], *data;
    struct stat st;
    int fd;

    if (geteuid() != 0) {
        note("not root: the ownership cases need root (skipped)");
        return;
    }
    snprintf(pub, sizeof(pub), "%s/pub", dir);    /* another user's folder */
    snprintf(priv, sizeof(priv), "%s/priv", dir); /* root's alone */
    snprintf(target, sizeof(target), "%s/priv/target", dir);
    mkdir(pub, 0755);
    mkdir(priv, 0755);
    ok(chown(pub, 65534, 65534) == 0, "a folder owned by nobody");
    ok(file_write_atomic(target, "secret\n", 7, 0600, err, sizeof(err)) == 0, "root's file");

    snprintf(lnk, sizeof(lnk), "%s/pub/f", dir);
    ok(symlink(target, lnk) == 0, "nobody links pub/f to it");
    ok(file_read_all(lnk, 100, &data, err, sizeof(err)) < 0 && errno == ELOOP &&
           strstr(err, "symbolic link"),
       "reading pub/f: the link is not followed");
    snprintf(lnk, sizeof(lnk), "%s/pub/d", dir);
    ok(symlink(priv, lnk) == 0, "nobody links pub/d to root's folder");
    snprintf(path, sizeof(path), "%s/pub/d/target", dir);
    ok(file_read_all(path, 100, &data, err, sizeof(err)) < 0 && errno == ELOOP,
       "reading through pub/d: refused");
    snprintf(path, sizeof(path), "%s/pub/d/new", dir);
    ok(file_write_atomic(path, "x", 1, 0644, err, sizeof(err)) < 0 && errno == ELOOP &&
           stat(path, &st) != 0,
       "writing through pub/d: refused, nothing made in root's folder");
    fd = file_open_dir(lnk);
    ok(fd < 0 && errno == ELOOP, "file_open_dir(pub/d): ELOOP");

    snprintf(lnk, sizeof(lnk), "%s/priv/alias", dir);
    ok(symlink("target", lnk) == 0 && file_read_all(lnk, 100, &data, err, sizeof(err)) == 7,
       "a link in root's own folder is followed");
    free(data);

    /* an owner is never inherited: a file nobody owns becomes root's */
    snprintf(path, sizeof(path), "%s/priv/given", dir);
    ok(file_write_atomic(path, "a\n", 2, 0644, err, sizeof(err)) == 0 &&
           chown(path, 65534, 65534) == 0,
       "a file given to nobody");
    ok(file_write_atomic(path, "b\n", 2, 0644, err, sizeof(err)) == 0 && stat(path, &st) == 0 &&
           st.st_uid == 0 && st.st_gid == 0,
       "rewritten by root: root's again");
    ok(chown(path, 0, 65534) == 0 &&
           file_write_atomic(path, "c\n", 2, 0640, err, sizeof(err)) == 0 && stat(path, &st) == 0 &&
           st.st_uid == 0 && st.st_gid == 65534,
       "the group of a root-owned file is kept");

    /* file_secure_at: what does not belong is removed, not followed */
    int pfd = file_open_dir(pub);
    ok(pfd >= 0 && !file_dir_private(pfd), "pub is not private");
    snprintf(lnk, sizeof(lnk), "%s/pub/f", dir);
    ok(file_secure_at(pfd, "f", false, 0, 0, 0640, err, sizeof(err)) == 0 && lstat(lnk, &st) != 0 &&
           stat(target, &st) == 0 && (st.st_mode & 0777) == 0600,
       "a link where a file belongs: removed, its target untouched");
    snprintf(lnk, sizeof(lnk), "%s/pub/hard", dir);
    ok(link(target, lnk) == 0, "a hard link to root's file");
    ok(file_secure_at(pfd, "hard", false, 0, 0, 0644, err, sizeof(err)) == 0 &&
           lstat(lnk, &st) != 0 && stat(target, &st) == 0 && (st.st_mode & 0777) == 0600,
       "a file with another hard link: removed, never chmod'ed");
    int rfd = file_open_dir(priv);
    snprintf(path, sizeof(path), "%s/priv/hard", dir);
    ok(rfd >= 0 && link(target, path) == 0 &&
           file_secure_at(rfd, "hard", false, 0, 65534, 0644, err, sizeof(err)) == 0 &&
           lstat(path, &st) == 0 && st.st_gid == 0 && (st.st_mode & 0777) == 0600,
       "a file with another hard link in root's own folder: left as it is");
    if (rfd >= 0)
        close(rfd);
    unlink(path);
    fd = file_secure_at(pfd, "d", true, 0, 65534, 0750, err, sizeof(err));
    snprintf(path, sizeof(path), "%s/pub/d", dir);
    ok(fd >= 0 && lstat(path, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == 0 &&
           st.st_gid == 65534 && (st.st_mode & 0777) == 0750,
       "a link where a folder belongs: a real folder root:65534 0750 instead");
    ok(stat(priv, &st) == 0 && st.st_gid == 0 && (st.st_mode & 0777) == 0755,
       "the folder the link pointed at is untouched");
    if (fd >= 0)
        close(fd);
    ok(file_secure_at(pfd, "missing", false, 0, 0, 0600, err, sizeof(err)) == 0,
       "a missing file stays missing");
    if (pfd >= 0)
        close(pfd);
}

int main(void)
{
    if (mkdtemp(dir) == NULL)
        return 1;
    subtest("atomic writes", test_atomic);
    subtest("the settings root", test_root);
    subtest("root_run", test_run);
    subtest("links and owners in folders others can write", test_links);
    const char *rm[] = {"/bin/rm", "-rf", dir, NULL};
    root_run(rm, NULL, NULL, 30, NULL, NULL, err, sizeof(err));
    return done_testing();
}
