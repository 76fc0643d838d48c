/* Unit tests for config-ui/lib/render.c: what each file holds, that
 * pullboxd accepts the rendered pullbox.conf (--check-config), that the
 * shell files source to the same values, that render_all writes only what
 * changed, and the firewall rules through pullbox-firewall print. */
#include "../../../server/src/redis_acl.h"
/* the apply service's maker of the hub's CA and Redis certificate */
#include "../../../config-ui/apply/hub_tls.c"
#include "hubca.h"
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

/* One subscriber per 7.5 KiB of memory (MiB x 136), 1024 descriptors kept
 * back, between 64 Ki and 1 Mi descriptors: what an 8 GiB appliance needs for a
 * million idle WebSockets, and no less than the 65536 of earlier images. */
static void test_max_connections(void)
{
    const unsigned long long mib = 1ull << 20;
    ok(render_max_connections(0) == 65536 - 1024, "no memory reading: 64 Ki descriptors");
    ok(render_max_connections(256 * mib) == 65536 - 1024, "256 MiB: 64 Ki descriptors at least");
    ok(render_max_connections(960 * mib) == 960 * 136 - 1024, "a 1 GiB appliance (960 MiB): 129,536");
    ok(render_max_connections(1980 * mib) == 1980 * 136 - 1024, "2 GiB: 268,256");
    ok(render_max_connections(3950 * mib) == 3950 * 136 - 1024, "4 GiB: 536,176");
    ok(render_max_connections(7990 * mib) == 1048576 - 1024, "8 GiB: 1,047,552, fs.nr_open's limit");
    ok(render_max_connections(64000 * mib) == 1048576 - 1024, "and no more on a larger one");
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
    /* max-connections follows this machine's memory, as the run script's descriptors do */
    snprintf(line, sizeof(line), "max-connections = %ld\n",
             render_max_connections((unsigned long long)sysconf(_SC_PHYS_PAGES) *
                                    (unsigned long long)sysconf(_SC_PAGESIZE)));
    ok(strstr(c, line) != NULL, "max-connections sized by memory");
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
    settings_set(&st, S_FW_SUBSCRIBE_CONNS, "3000", err, sizeof(err));
    settings_set(&st, S_FW_SSH_RATE, "7", err, sizeof(err));
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
        {RF_FIREWALL, "SUBSCRIBE_CONN_PER_SOURCE", "3000"},
        {RF_FIREWALL, "SUBSCRIBE_NEW_PER_SEC", "200"},
        {RF_FIREWALL, "SSH_NEW_PER_MIN", "7"},
        {RF_FIREWALL, "WIZARD_NEW_PER_MIN", "120"},
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

    /* dropbear's run script matches the exact line "PASSWORD_LOGIN=no" */
    render_file(RF_DROPBEAR, &st, &sec, 0, &b);
    ok(strstr(b.data, "\nPASSWORD_LOGIN=yes\n") != NULL, "ssh: passwords by default");
    render_buf_free(&b);
    ok(settings_set(&st, S_SSH_KEY_ONLY, "yes", err, sizeof(err)) == 0, "ssh.key-only = yes");
    render_file(RF_DROPBEAR, &st, &sec, 0, &b);
    ok(strstr(b.data, "\nPASSWORD_LOGIN=no\n") != NULL, "ssh: key only: PASSWORD_LOGIN=no");
    render_buf_free(&b);
    ok(settings_set(&st, S_SSH_KEY_ONLY, "-s -p 2222", err, sizeof(err)) != 0 &&
           strstr(err, "SSH logins with a key only") && strstr(err, "no (a password or a key)"),
       "ssh.key-only takes yes or no only, and says so");
    note("%s", err);
    settings_set(&st, S_SSH_KEY_ONLY, "no", err, sizeof(err));
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
    ok(n == RF__COUNT - 1 && !changed[RF_REDIS],
       "the first time: every file written (redis.conf only on a hub)");
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
    settings_set(&st, S_SSH_KEY_ONLY, "yes", err, sizeof(err));
    render_all(&st, &sec, 0, changed, err, sizeof(err));
    n = 0;
    for (int f = 0; f < RF__COUNT; f++)
        n += changed[f];
    ok(changed[RF_DROPBEAR] && n == 1, "ssh.key-only writes dropbear.conf only");
    settings_set(&st, S_SSH_KEY_ONLY, "no", err, sizeof(err));
    render_all(&st, &sec, 0, changed, err, sizeof(err));
    snprintf(path, sizeof(path), "%s/%s", root, PATH_PULLBOX_CONF);
    stat(path, &s1);
    ok((s1.st_mode & 0777) == 0640, "pullbox.conf 0640 (it holds the key)");
}

/* pullboxd --check-config on conf text (skipped without a built pullboxd). */
static void check_config(const char *text, const char *what)
{
    char pullboxd[400], conf[300], *out = NULL;

    snprintf(pullboxd, sizeof(pullboxd), "%s/out/pullboxd", repo());
    if (access(pullboxd, X_OK) != 0) {
        note("no %s: --check-config skipped", pullboxd);
        return;
    }
    snprintf(conf, sizeof(conf), "%s/check.conf", root);
    file_write_atomic(conf, text, strlen(text), 0640, err, sizeof(err));
    const char *chk[] = {pullboxd, "--check-config", "-c", conf, NULL};
    int rc = root_run(chk, NULL, NULL, 30, &out, NULL, err, sizeof(err));
    ok(rc == 0, what);
    if (rc != 0)
        note("%s: %s", err, out);
    free(out);
    unlink(conf);
}

#define FP_EXAMPLE                                                                                 \
    "5D:0E:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:9A"

/* The hub's CA and Redis certificate: made once, the key root:redis 0640
 * (the test tree keeps the group), the CA's key 0600; the certificate
 * chains to the CA for the name every pullboxd checks (openssl verify) and
 * the fingerprint shown is the CA's SHA-256 (openssl x509). */
static void hub_tls_checks(const struct settings *cs)
{
    char fp[HUBCA_FINGERPRINT_LEN], path[400], script[1600], *out = NULL;
    struct stat sb;

    ok(hub_tls_ensure(cs, err, sizeof(err)) == 1, "hub: its CA and Redis certificate are made");
    ok(hub_tls_ensure(cs, err, sizeof(err)) == 0, "and kept on the next apply");
    snprintf(path, sizeof(path), "%s/" PATH_HUBCA_KEY, root);
    ok(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600 && sb.st_uid == 0, "ca.key: root, 0600");
    snprintf(path, sizeof(path), "%s/" PATH_HUBCA_REDIS_KEY, root);
    ok(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0640 && sb.st_uid == 0,
       "redis.key: root, 0640 (group redis on the appliance)");
    ok(hubca_fingerprint(PATH_HUBCA_CERT, fp, err, sizeof(err)) == 0 && strlen(fp) == 95,
       "the CA's fingerprint: 32 bytes, colon-separated");
    snprintf(script, sizeof(script),
             "cd '%s/" PATH_HUBCA_DIR "' && openssl verify -CAfile ca.pem -verify_hostname "
             "pullbox-hub redis.pem && openssl verify -CAfile ca.pem -verify_ip 127.0.0.1 "
             "redis.pem && openssl x509 -in ca.pem -noout -fingerprint -sha256",
             root);
    const char *argv[] = {"/bin/sh", "-c", script, NULL};
    int rc = root_run(argv, NULL, NULL, 20, &out, NULL, err, sizeof(err));
    ok(rc == 0 && out && strstr(out, "redis.pem: OK") && strstr(out, fp),
       "openssl verify: redis.pem chains to ca.pem for pullbox-hub and 127.0.0.1; the same SHA-256");
    if (rc != 0 || !out || !strstr(out, fp))
        note("%s", out ? out : err);
    free(out);
}

static void test_cluster(void)
{
    struct settings cs;
    struct secrets csec;
    struct render_buf b;
    char line[600], *c, path[400];
    bool changed[RF__COUNT];

    settings_defaults(&cs);
    memset(&csec, 0, sizeof(csec));
    secrets_new_key(csec.signature_key);
    render_file(RF_PULLBOX, &cs, &csec, 0, &b);
    ok(!strstr(b.data, "redis") && !strstr(b.data, "node-name") && strstr(b.data, "journal-path"),
       "standalone: no redis lines, no node-name, the journal");
    render_buf_free(&b);
    ok(render_file(RF_REDIS, &cs, &csec, 0, &b) == 0 && b.absent, "standalone: no redis.conf");
    render_buf_free(&b);
    render_file(RF_FIREWALL, &cs, &csec, 0, &b);
    ok(strstr(b.data, "REDIS_PEERS=\"\"\n") != NULL, "standalone: REDIS_PEERS empty");
    render_buf_free(&b);

    /* hub */
    settings_set(&cs, S_CLUSTER_ROLE, "hub", err, sizeof(err));
    settings_set(&cs, S_CLUSTER_PEERS, "192.0.2.21 2001:db8::/64", err, sizeof(err));
    ok(render_file(RF_REDIS, &cs, &csec, 0, &b) != 0, "hub without a Redis password: not rendered");
    secrets_new_key(csec.redis_password);
    ok(render_file(RF_REDIS, &cs, &csec, 0, &b) == 0 && !b.absent, "hub: redis.conf");
    hub_tls_checks(&cs);
    snprintf(line, sizeof(line), "\nuser default off\nuser pullbox reset on >%s ~pullbox:* &pullbox:* %s\n",
             csec.redis_password, REDIS_ACL_COMMANDS);
    ok(strstr(b.data, line) != NULL && strstr(b.data, "requirepass") == NULL,
       "the default user is off; user pullbox has the hub's password and pullboxd's commands only");
    snprintf(line, sizeof(line), "\ndir %s/data/redis\n", root);
    ok(strstr(b.data, line) != NULL, "dir under the root");
    static const char *const want[] = {"\nport 0\n",
                                       "\ntls-port 6379\n",
                                       "\ntls-auth-clients no\n",
                                       "\nbind 0.0.0.0 -::\n",
                                       "\nprotected-mode yes\n",
                                       "\nappendonly yes\n",
                                       "\nappendfsync everysec\n",
                                       "\nsave \"\"\n",
                                       "\nmaxmemory 256mb\n",
                                       "\nmaxmemory-policy noeviction\n",
                                       "\nlogfile \"\"\n",
                                       "\nrename-command FLUSHALL \"\"\n",
                                       "\nrename-command FLUSHDB \"\"\n",
                                       "\nrename-command CONFIG \"\"\n",
                                       "\nrename-command DEBUG \"\"\n",
                                       "\nrename-command SHUTDOWN \"\"\n"};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        ok(strstr(b.data, want[i]) != NULL, want[i] + 1);
    snprintf(line, sizeof(line),
             "\ntls-cert-file %s/data/etc/redis-tls/redis.pem\ntls-key-file "
             "%s/data/etc/redis-tls/redis.key\ntls-ca-cert-file %s/data/etc/redis-tls/ca.pem\n",
             root, root, root);
    ok(strstr(b.data, line) != NULL, "the hub's certificate, key and CA");
    /* the real redis-server accepts it (TCP off, so nothing is bound) */
    if (access("/usr/bin/redis-server", X_OK) == 0) {
        char conf[400], script[1200], *out = NULL;
        mkdirs("data/redis");
        snprintf(conf, sizeof(conf), "%s/redis-test.conf", root);
        file_write_atomic(conf, b.data, b.len, 0600, err, sizeof(err));
        snprintf(script, sizeof(script),
                 "timeout 3 /usr/bin/redis-server '%s' --tls-port 0 --unixsocket '%s/redis.sock'; "
                 "exit 0",
                 conf, root);
        const char *argv[] = {"/bin/sh", "-c", script, NULL};
        root_run(argv, NULL, NULL, 20, &out, NULL, err, sizeof(err));
        bool up = out && strstr(out, "Configuration loaded") && strstr(out, "accept connections");
        ok(up && !strstr(out, "Bad directive"), "redis-server starts with the rendered redis.conf");
        if (!up)
            note("%s", out ? out : err);
        free(out);
        unlink(conf);
    } else {
        note("no redis-server: its check of redis.conf skipped");
    }
    render_buf_free(&b);
    render_file(RF_PULLBOX, &cs, &csec, 0, &b);
    snprintf(line, sizeof(line),
             "\nredis = 127.0.0.1:6379\nredis-user = pullbox\nredis-password = %s\nredis-tls = "
             "on\nredis-tls-ca = %s/data/etc/redis-tls/ca.pem\nredis-tls-name = pullbox-hub\n"
             "node-name = pullbox\n",
             csec.redis_password, root);
    ok(strstr(b.data, line) != NULL,
       "hub: pullboxd uses its own Redis, with the password, over TLS checked against the CA");
    ok(strstr(b.data, "journal-") == NULL, "hub: no journal (pullboxd refuses both)");
    check_config(b.data, "pullboxd --check-config accepts the hub's pullbox.conf");
    c = strdup(b.data);
    render_buf_free(&b);
    render_file(RF_FIREWALL, &cs, &csec, 0, &b);
    ok(strstr(b.data, "REDIS_PEERS=\"192.0.2.21 2001:db8::/64\"\n") != NULL,
       "hub: REDIS_PEERS are the peers");
    render_buf_free(&b);

    /* node */
    settings_set(&cs, S_CLUSTER_ROLE, "node", err, sizeof(err));
    settings_set(&cs, S_CLUSTER_HUB, "[2001:db8::20]:6380", err, sizeof(err));
    snprintf(csec.hub_password, sizeof(csec.hub_password), "%s", "0123456789abcdef-hub");
    ok(settings_set(&cs, S_CLUSTER_HUB_CA, FP_EXAMPLE, err, sizeof(err)) == 0,
       "cluster.hub-ca takes a SHA-256 with colons");
    settings_set(&cs, S_HOSTNAME,
                 "a-very-long-first-label-for-this-node.of-a-domain-that-goes-on.example.com", err,
                 sizeof(err));
    render_file(RF_PULLBOX, &cs, &csec, 0, &b);
    ok(strstr(b.data, "\nredis = [2001:db8::20]:6380\nredis-user = pullbox\nredis-password = 0123456789abcdef-hub\n"),
       "node: the hub's address and the hub's password");
    ok(strstr(b.data, "\nredis-tls = on\nredis-tls-fingerprint = " FP_EXAMPLE
                      "\nredis-tls-name = pullbox-hub\n") != NULL,
       "node: TLS to the hub, its CA pinned by the fingerprint, the hub's certificate name");
    ok(strstr(b.data, "\nnode-name = a-very-long-first-label-for-this-node\n") != NULL,
       "a host name over 64 characters: node-name is its first label");
    ok(strstr(b.data, csec.redis_password) == NULL, "node: not its own hub password");
    check_config(b.data, "pullboxd --check-config accepts the node's pullbox.conf");
    ok(render_pullbox_needs_restart(c, b.data), "hub -> node: pullboxd restarts");
    ok(!render_pullbox_needs_restart(NULL, b.data) && !render_pullbox_needs_restart(b.data, b.data),
       "the same file: no restart");
    free(c);
    c = strdup(b.data);
    render_buf_free(&b);
    settings_set(&cs, S_SITE_SIGNATURE_ALGO, "sha256", err, sizeof(err));
    render_file(RF_PULLBOX, &cs, &csec, 0, &b);
    ok(strcmp(c, b.data) != 0 && !render_pullbox_needs_restart(c, b.data),
       "a signature change: SIGHUP is enough");
    ok(render_pullbox_needs_restart("workers = 1\nlongpoll-timeout = 40\n",
                                    "workers = 2\nlongpoll-timeout = 40\n") &&
           render_pullbox_needs_restart("listen-subscribe = 0.0.0.0:8893\n",
                                        "listen-subscribe = 0.0.0.0:9893\n") &&
           !render_pullbox_needs_restart("workers = 1\nlongpoll-timeout = 40\n",
                                         "workers = 1\nlongpoll-timeout = 30\n"),
       "restart or reload as pullboxd's table marks the keys (workers, listen: restart)");
    render_buf_free(&b);
    render_file(RF_REDIS, &cs, &csec, 0, &b);
    ok(b.absent, "node: no redis.conf");
    render_buf_free(&b);
    render_file(RF_FIREWALL, &cs, &csec, 0, &b);
    ok(strstr(b.data, "REDIS_PEERS=\"\"\n") != NULL, "node: 6379 closed even with peers set");
    render_buf_free(&b);
    free(c);

    /* render_all writes redis.conf on a hub and removes it after */
    snprintf(path, sizeof(path), "%s/%s", root, PATH_REDIS_CONF);
    settings_set(&cs, S_CLUSTER_ROLE, "hub", err, sizeof(err));
    ok(render_all(&cs, &csec, 0, changed, err, sizeof(err)) == 0 && changed[RF_REDIS] &&
           access(path, F_OK) == 0,
       "render_all: hub writes redis.conf");
    struct stat sb;
    ok(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0640, "redis.conf 0640 (the password)");
    render_all(&cs, &csec, 0, changed, err, sizeof(err));
    ok(!changed[RF_REDIS], "unchanged: not written again");
    settings_set(&cs, S_CLUSTER_ROLE, "standalone", err, sizeof(err));
    ok(render_all(&cs, &csec, 0, changed, err, sizeof(err)) == 0 && changed[RF_REDIS] &&
           access(path, F_OK) != 0,
       "render_all: standalone removes redis.conf");
    render_all(&cs, &csec, 0, changed, err, sizeof(err));
    ok(!changed[RF_REDIS], "already gone: no change");
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
    ok(b.data && strstr(b.data, "6379") == NULL, "standalone: nothing about 6379");
    ok(b.data && strstr(b.data, "--connlimit-above 3000 --connlimit-mask 32 ") &&
           strstr(b.data, "--connlimit-above 3000 --connlimit-mask 64 "),
       "connections per source: the setting, per IPv4 address and per IPv6 /64");
    ok(b.data && strstr(b.data, "--dport 22 --syn -m hashlimit --hashlimit-above 7/minute "),
       "new SSH connections per source: the setting");
    ok(b.data && strstr(b.data, "-A PREROUTING -p tcp -m multiport --dports 22,80,443 -m comment "
                                "--comment admin-untracked -j CT --notrack"),
       "the admin ports skip connection tracking");
    render_buf_free(&b);
    settings_set(&st, S_CLUSTER_PEERS, "192.0.2.21 2001:db8::21", err, sizeof(err));
    render_firewall_rules(&st, &b, err, sizeof(err));
    ok(b.data && strstr(b.data, "6379") == NULL, "peers without the hub role: 6379 stays closed");
    render_buf_free(&b);
    settings_set(&st, S_CLUSTER_ROLE, "hub", err, sizeof(err));
    render_firewall_rules(&st, &b, err, sizeof(err));
    char *v6 = b.data ? strstr(b.data, "# IPv6") : NULL;
    const char *r4 =
        "-A INPUT -p tcp --dport 6379 -s 192.0.2.21 -m comment --comment cluster-redis "
        "-j ACCEPT\n";
    const char *r6 = "-A INPUT -p tcp --dport 6379 -s 2001:db8::21 -m comment --comment "
                     "cluster-redis -j ACCEPT\n";
    ok(v6 && strstr(b.data, r4) && strstr(b.data, r4) < v6, "hub: 6379 from the IPv4 peer");
    ok(v6 && strstr(v6, r6) && !strstr(v6, r4), "hub: 6379 from the IPv6 peer in the IPv6 set");
    ok(b.data && !strstr(b.data, "--dport 6379 -m") && !strstr(b.data, "--dport 6379 -j"),
       "6379 never open to all");
    render_buf_free(&b);
    settings_set(&st, S_CLUSTER_ROLE, "standalone", err, sizeof(err));
}

int main(void)
{
    if (mkdtemp(root) == NULL)
        return 1;
    setenv("PULLBOX_ROOT", root, 1);
    mkdirs("data/etc");
    mkdirs("data/pullbox/tls");
    mkdirs("data/pullbox/journal");
    mkdirs("data/redis");
    settings_defaults(&st);
    memset(&sec, 0, sizeof(sec));
    secrets_new_key(sec.signature_key);
    subtest("pullbox.conf", test_pullbox_conf);
    subtest("max-connections by memory", test_max_connections);
    subtest("shell-sourced files", test_shell_files);
    subtest("render_all", test_render_all);
    subtest("cluster", test_cluster);
    subtest("firewall rules", test_firewall_rules);
    const char *rm[] = {"/bin/rm", "-rf", root, NULL};
    root_run(rm, NULL, NULL, 30, NULL, NULL, err, sizeof(err));
    return done_testing();
}
