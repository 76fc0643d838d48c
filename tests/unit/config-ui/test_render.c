/* Unit tests for config-ui/lib/render.c: what each file holds, that
 * pullboxd accepts the rendered pullbox.conf (--check-config), that the
 * shell files source to the same values, that render_all writes only what
 * changed, and the firewall rules through pullbox-firewall print. */
#include "fileio.h"
#include "render.h"
#include "root.h"
#include "secrets.h"
#include "settings.h"

#include "tap.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef REPO
#define REPO "../../.."
#endif

static char root[] = "/tmp/test_render-XXXXXX";
static char err[512];
static struct settings st;
static struct secrets sec;

static char *render(enum render_file f, long long now)
{
    struct render_buf b;
    if (render_file(f, &st, &sec, now, &b) != 0)
        return strdup("");
    return b.data;
}

static void mkdirs(const char *rel)
{
    char path[512], *p;
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    for (p = path + strlen(root) + 1; (p = strchr(p, '/')); p++) {
        *p = '\0';
        mkdir(path, 0755);
        *p = '/';
    }
    mkdir(path, 0755);
}

static const char *repo(void)
{
    const char *r = getenv("PULLBOX_ROOT_DIR"); /* set by tests/run */
    return r ? r : REPO;
}

/* runs sh -c '. FILE; printf %s "$VAR"' */
static char *source_var(const char *file, const char *var)
{
    char script[512], *out = NULL;
    snprintf(script, sizeof(script), ". '%s'; printf %%s \"$%s\"", file, var);
    const char *argv[] = {"/bin/sh", "-c", script, NULL};
    root_run(argv, NULL, NULL, 10, &out, NULL, err, sizeof(err));
    return out ? out : strdup("?");
}

static void test_pullbox_conf(void)
{
    char *c, line[600], cert[300], key[300], conf[300], pullboxd[400], *out = NULL;
    long long now = 1700000000;

    c = render(RF_PULLBOX, now);
    snprintf(line, sizeof(line), "tls-certificate = %s/data/pullbox/tls/cert.pem\n", root);
    ok(strstr(c, line) != NULL, "certificate path under the root");
    snprintf(line, sizeof(line), "journal-path = %s/data/pullbox/journal\n", root);
    ok(strstr(c, line) != NULL, "journal under the root");
    ok(strstr(c, "listen-subscribe = 0.0.0.0:8893\n") &&
           strstr(c, "listen-subscribe-tls = 0.0.0.0:8894\n") &&
           strstr(c, "listen-publish = 0.0.0.0:8895\n"),
       "the appliance's ports");
    ok(strstr(c, "journal-max-size = 256\n") != NULL, "journal-max-size 256");
    snprintf(line, sizeof(line), "signature-key = %s\n", sec.signature_key);
    ok(strstr(c, line) != NULL, "signature-key");
    ok(strstr(c, "signature-key-previous = \n") != NULL, "no previous key");
    ok(strstr(c, "signature-algorithm = sha1\n") != NULL, "algorithm");
    free(c);

    secrets_rotate(&sec, now, 100);
    c = render(RF_PULLBOX, now + 99);
    snprintf(line, sizeof(line), "signature-key-previous = %s\n", sec.signature_key_previous);
    ok(strstr(c, line) != NULL, "previous key listed during its grace period");
    free(c);
    c = render(RF_PULLBOX, now + 100);
    ok(strstr(c, "signature-key-previous = \n") != NULL, "and not after it");
    free(c);
    settings_set(&st, S_SITE_SIGNATURE_ALGO, "sha256", err, sizeof(err));
    c = render(RF_PULLBOX, now);
    ok(strstr(c, "signature-algorithm = sha256\n") != NULL, "sha256");

    /* pullboxd itself accepts it */
    snprintf(pullboxd, sizeof(pullboxd), "%s/out/pullboxd", repo());
    if (access(pullboxd, X_OK) != 0) {
        note("no %s: --check-config skipped", pullboxd);
        free(c);
        return;
    }
    snprintf(cert, sizeof(cert), "%s/data/pullbox/tls/cert.pem", root);
    snprintf(key, sizeof(key), "%s/data/pullbox/tls/key.pem", root);
    const char *mk[] = {pullboxd, "--make-cert", cert, key, "pullbox,127.0.0.1", NULL};
    ok(root_run(mk, NULL, NULL, 60, NULL, NULL, err, sizeof(err)) == 0, "pullboxd --make-cert");
    snprintf(conf, sizeof(conf), "%s/data/pullbox/pullbox.conf", root);
    file_write_atomic(conf, c, strlen(c), 0640, err, sizeof(err));
    const char *chk[] = {pullboxd, "--check-config", "-c", conf, NULL};
    int rc = root_run(chk, NULL, NULL, 30, &out, NULL, err, sizeof(err));
    ok(rc == 0, "pullboxd --check-config accepts the rendered pullbox.conf");
    if (rc != 0)
        note("%s: %s", err, out);
    free(out);
    free(c);
}

static void test_shell_files(void)
{
    char path[400], *v;
    struct render_buf b;

    settings_set(&st, S_SITE_PUBLISHERS, "192.0.2.5 2001:db8::/32", err, sizeof(err));
    settings_set(&st, S_FW_SUBSCRIBE_NETWORKS, "10.0.0.0/8", err, sizeof(err));
    settings_set(&st, S_NET_MODE, "static", err, sizeof(err));
    settings_set(&st, S_NET_ADDRESS, "192.0.2.10/24", err, sizeof(err));
    settings_set(&st, S_NET_GATEWAY, "192.0.2.1", err, sizeof(err));
    settings_set(&st, S_NET_DNS, "192.0.2.1 192.0.2.2", err, sizeof(err));
    settings_set(&st, S_NET_NTP, "ntp1.example ntp2.example", err, sizeof(err));
    snprintf(path, sizeof(path), "%s/shell.conf", root);
    struct {
        enum render_file f;
        const char *var, *want;
    } cases[] = {
        {RF_FIREWALL, "PUBLISHERS", "192.0.2.5 2001:db8::/32"},
        {RF_FIREWALL, "SUBSCRIBERS", "10.0.0.0/8"},
        {RF_FIREWALL, "ADMIN_NETWORKS", "any"},
        {RF_NETWORK, "MODE", "static"},
        {RF_NETWORK, "ADDRESS", "192.0.2.10/24"},
        {RF_NETWORK, "GATEWAY", "192.0.2.1"},
        {RF_NETWORK, "DNS", "192.0.2.1 192.0.2.2"},
        {RF_NTP, "SERVERS", "ntp1.example ntp2.example"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        render_file(cases[i].f, &st, &sec, 0, &b);
        file_write_atomic(path, b.data, b.len, 0644, err, sizeof(err));
        render_buf_free(&b);
        v = source_var(path, cases[i].var);
        ok(strcmp(v, cases[i].want) == 0, cases[i].var);
        if (strcmp(v, cases[i].want) != 0)
            note("got '%s'", v);
        free(v);
    }
    settings_set(&st, S_NET_MODE, "dhcp", err, sizeof(err));
    render_file(RF_NETWORK, &st, &sec, 0, &b);
    ok(strstr(b.data, "MODE=dhcp\n") && !strstr(b.data, "ADDRESS="), "dhcp: the mode alone");
    render_buf_free(&b);
    render_file(RF_HOSTNAME, &st, &sec, 0, &b);
    ok(strcmp(b.data, "pullbox\n") == 0, "hostname file");
    render_buf_free(&b);
    unlink(path);
}

static void test_render_all(void)
{
    bool changed[RF__COUNT];
    int n = 0;
    char path[400];
    struct stat s1, s2;

    snprintf(path, sizeof(path), "%s/%s", root, PATH_PULLBOX_CONF);
    unlink(path); /* written by the --check-config case */
    ok(render_all(&st, &sec, 0, changed, err, sizeof(err)) == 0, "render_all");
    for (int f = 0; f < RF__COUNT; f++)
        n += changed[f];
    ok(n == RF__COUNT, "the first time: every file written");
    snprintf(path, sizeof(path), "%s/%s", root, PATH_FIREWALL_CONF);
    stat(path, &s1);
    ok(render_all(&st, &sec, 0, changed, err, sizeof(err)) == 0, "again");
    n = 0;
    for (int f = 0; f < RF__COUNT; f++)
        n += changed[f];
    ok(n == 0, "the same settings: nothing written");
    stat(path, &s2);
    ok(s1.st_ino == s2.st_ino, "the file was not replaced");
    settings_set(&st, S_HOSTNAME, "other", err, sizeof(err));
    render_all(&st, &sec, 0, changed, err, sizeof(err));
    ok(changed[RF_HOSTNAME] && !changed[RF_PULLBOX] && !changed[RF_FIREWALL] &&
           !changed[RF_NETWORK] && !changed[RF_NTP],
       "a host name change writes the hostname only");
    snprintf(path, sizeof(path), "%s/%s", root, PATH_PULLBOX_CONF);
    stat(path, &s1);
    ok((s1.st_mode & 0777) == 0640, "pullbox.conf 0640 (it holds the key)");
}

static void test_firewall_rules(void)
{
    char src[400], dst[400], *data;
    struct render_buf b;
    long n;

    snprintf(src, sizeof(src), "%s/rootfs/usr/sbin/pullbox-firewall", repo());
    snprintf(dst, sizeof(dst), "%s/usr/sbin/pullbox-firewall", root);
    mkdirs("usr/sbin");
    n = file_read_all(src, 65536, &data, err, sizeof(err));
    ok(n > 0 && file_write_atomic(dst, data, (size_t)n, 0755, err, sizeof(err)) == 0,
       "installed pullbox-firewall");
    free(data);
    ok(render_firewall_rules(&st, &b, err, sizeof(err)) == 0, "render_firewall_rules");
    ok(b.data && strstr(b.data, "--dport 8895 -s 192.0.2.5 ") != NULL,
       "8895 from the IPv4 publisher");
    ok(b.data && strstr(b.data, "--dport 8895 -s 2001:db8::/32 ") != NULL, "and the IPv6 one");
    ok(b.data && strstr(b.data, "--dports 8893,8894 -s 10.0.0.0/8 ") != NULL,
       "subscribers narrowed");
    ok(b.data && strstr(b.data, "*filter") && strstr(b.data, "# IPv6"), "both rule sets");
    ok(b.data && strstr(b.data, "--dport 8895 -j ACCEPT") == NULL, "8895 never open to all");
    render_buf_free(&b);
}

int main(void)
{
    if (mkdtemp(root) == NULL)
        return 1;
    setenv("PULLBOX_ROOT", root, 1);
    mkdirs("data/etc");
    mkdirs("data/pullbox/tls");
    mkdirs("data/pullbox/journal");
    settings_defaults(&st);
    memset(&sec, 0, sizeof(sec));
    secrets_new_key(sec.signature_key);
    subtest("pullbox.conf", test_pullbox_conf);
    subtest("shell-sourced files", test_shell_files);
    subtest("render_all", test_render_all);
    subtest("firewall rules", test_firewall_rules);
    const char *rm[] = {"/bin/rm", "-rf", root, NULL};
    root_run(rm, NULL, NULL, 30, NULL, NULL, err, sizeof(err));
    return done_testing();
}
