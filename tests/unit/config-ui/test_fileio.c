/* Unit tests for config-ui/lib/fileio.c and root.c: atomic writes, bounded
 * reads, the settings root (a relative one is refused), root_run. */
#include "fileio.h"
#include "root.h"

#include "tap.h"

#include <dirent.h>
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

int main(void)
{
    if (mkdtemp(dir) == NULL)
        return 1;
    subtest("atomic writes", test_atomic);
    subtest("the settings root", test_root);
    subtest("root_run", test_run);
    const char *rm[] = {"/bin/rm", "-rf", dir, NULL};
    root_run(rm, NULL, NULL, 30, NULL, NULL, err, sizeof(err));
    return done_testing();
}
