/* Unit tests for server/src/config.c and config_table.c: the defaults load
 * and validate, every load error names the file, line, key and the accepted
 * range, the printed config reads back to the same values, and a reload
 * keeps every key read at start only (strings moved, not copied, so pointers
 * into the running ones stay valid). */
#include "../../../server/src/first.h"

#include "../../../server/src/config.c"
#include "../../../server/src/config_table.c"
#include "../../../server/src/log.c"
#include "../../../server/src/redis_conn.c"
#include "../../../server/src/redis_tls.c"
#include "../../../server/src/util.c"

#include "tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char path[] = "/tmp/pullbox-test-config-XXXXXX";

static int load_text(const char *text, struct config *cfg, char *err, size_t errlen)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return config_load(path, cfg, err, errlen);
}

static bool refused(const char *text, const char *needle)
{
    struct config cfg;
    char err[512] = "";
    int r = load_text(text, &cfg, err, sizeof err);
    if (r == 0) {
        config_free(&cfg);
        note("accepted: %s", text);
        return false;
    }
    if (!strstr(err, needle) || !strstr(err, path))
        note("error \"%s\" lacks \"%s\" or the file name", err, needle);
    return strstr(err, needle) && strstr(err, path);
}

static void test_defaults(void)
{
    struct config cfg;
    char err[256];
    config_defaults(&cfg);
    ok(cfg.longpoll_timeout == 40 && strcmp(cfg.listen_subscribe, "0.0.0.0:8893") == 0,
       "defaults: long polls held 40 s, subscribers on 8893");
    ok(config_validate(&cfg, err, sizeof err) != 0 && strstr(err, "signature-key"),
       "the defaults alone are refused: signature-key is required");
    config_free(&cfg);
}

static void test_errors(void)
{
    ok(refused("longpoll-timeout = 0\n", ":1: longpoll-timeout: \"0\" is not an integer from"),
       "an integer out of range names line, key and range");
    ok(refused("\n\nno-such-key = 1\n", ":3: unknown key \"no-such-key\""),
       "an unknown key names its line");
    ok(refused("signature-algorithm = md5\n", "is not one of sha1, sha256"),
       "an enum names the accepted values");
    ok(refused("path-subscribe = relative\n", "is not an absolute URL path"), "a path must be absolute");
    ok(refused("just words\n", "expected \"key = value\""), "a line without = is refused");
    struct config cfg;
    char err[256];
    ok(load_text("# comment\n\nsignature-key = 0123456789abcdef0123\nlongpoll-timeout = 7\n", &cfg, err,
                 sizeof err) == 0 &&
           cfg.longpoll_timeout == 7,
       "comments and blank lines are skipped");
    config_free(&cfg);
}

static void test_print_reads_back(void)
{
    FILE *f = fopen(path, "w");
    config_print(f, "printed-key-0123456789");
    fclose(f);
    struct config a, b;
    char err[256];
    int r = config_load(path, &a, err, sizeof err);
    ok(r == 0, "--print-config's output loads");
    config_defaults(&b);
    ok(r == 0 && strcmp(a.signature_key, "printed-key-0123456789") == 0 &&
           a.longpoll_timeout == b.longpoll_timeout && strcmp(a.tls_ciphers, b.tls_ciphers) == 0 &&
           a.signature_algorithm == b.signature_algorithm,
       "and gives the defaults back");
    if (r == 0)
        config_free(&a);
    config_free(&b);
}

static const char *changed_keys[8];
static int n_changed;
static void on_changed(const char *key)
{
    if (n_changed < 8)
        changed_keys[n_changed++] = key;
}

static void test_keep_restart_only(void)
{
    struct config running, next;
    char err[256];
    load_text("signature-key = 0123456789abcdef0123\nnode-name = one\nworkers = 2\n"
              "longpoll-timeout = 40\n",
              &running, err, sizeof err);
    load_text("signature-key = 0123456789abcdef0123\nnode-name = two\nworkers = 4\n"
              "longpoll-timeout = 20\n",
              &next, err, sizeof err);
    const char *kept = running.node_name;
    config_keep_restart_only(&next, &running, on_changed);
    ok(next.node_name == kept && strcmp(next.node_name, "one") == 0 && next.workers == 2,
       "node-name and workers keep their running values (the same string, moved)");
    ok(next.longpoll_timeout == 20, "a reloadable key takes its new value");
    ok(n_changed == 2 && ((strcmp(changed_keys[0], "node-name") == 0 &&
                           strcmp(changed_keys[1], "workers") == 0)),
       "each changed key read at start only is reported, no other");
    config_free(&running); /* frees "two": next must not point at it */
    ok(strcmp(next.node_name, "one") == 0, "the kept string outlives the old config");
    config_free(&next);
    ok(config_key_restart_only("redis") && config_key_restart_only("listen-subscribe") &&
           !config_key_restart_only("longpoll-timeout") && !config_key_restart_only("no-such-key"),
       "config_key_restart_only follows the table");
}

int main(void)
{
    int fd = mkstemp(path);
    if (fd < 0)
        return 1;
    close(fd);
    subtest("defaults", test_defaults);
    subtest("load errors", test_errors);
    subtest("print reads back", test_print_reads_back);
    subtest("reload keeps keys read at start only", test_keep_restart_only);
    unlink(path);
    return done_testing();
}
