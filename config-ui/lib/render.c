/* Renders the services' files from the settings and secrets. Every value
 * written here went through settings_set() or the secrets checks, so the
 * files read by shell scripts (firewall.conf, network.conf, ntp.conf)
 * never hold a quote, a '$' or a line break; pullbox-firewall and the
 * network and ntpd services parse theirs (KEY=value lines) rather than
 * source them. Each
 * file is root's, with its mode and group. */
#include "../../server/src/config_table.h"
#include "../../server/src/redis_acl.h"
#include "render.h"

#include "fileio.h"
#include "hubca.h"
#include "root.h"
#include "secrets.h"
#include "settings.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct {
    const char *rel;
    unsigned mode;
    const char *group; /* for a new file, when that group exists */
} render_files[RF__COUNT] = {
    [RF_PULLBOX] = {PATH_PULLBOX_CONF, 0640, "pullbox"},
    [RF_FIREWALL] = {PATH_FIREWALL_CONF, 0644, NULL},
    [RF_NETWORK] = {PATH_NETWORK_CONF, 0644, NULL},
    [RF_NTP] = {PATH_NTP_CONF, 0644, NULL},
    [RF_HOSTNAME] = {PATH_HOSTNAME, 0644, NULL},
    /* the ACL user's password: readable by the redis user's group only */
    [RF_REDIS] = {PATH_REDIS_CONF, 0640, "redis"},
    [RF_DROPBEAR] = {PATH_DROPBEAR_CONF, 0644, NULL},
};

const char *render_file_path(enum render_file f)
{
    return (int)f >= 0 && f < RF__COUNT ? render_files[f].rel : NULL;
}

__attribute__((format(printf, 2, 3))) static void put(struct render_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        abort();
    char *nd = realloc(b->data, b->len + (size_t)n + 1);
    if (nd == NULL)
        abort();
    b->data = nd;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* The appliance path as this root sees it: "/data/..." on the appliance,
 * "<root>/data/..." in a test tree. */
static void put_path(struct render_buf *b, const char *key, const char *rel)
{
    put(b, "%s = %s/%s\n", key, root_dir(), rel);
}

/* The same for a "directive value" file (redis.conf). */
static void put_path_word(struct render_buf *b, const char *key, const char *rel)
{
    put(b, "%s %s/%s\n", key, root_dir(), rel);
}

static bool is_role(const struct settings *st, const char *role)
{
    return strcmp(st->v[S_CLUSTER_ROLE], role) == 0;
}

/* pullboxd's node-name takes at most 64 characters: a longer host name is
 * cut to its first label (at most 63), which names the node as well. */
static void put_node_name(struct render_buf *b, const char *hostname)
{
    size_t n = strlen(hostname);

    if (n > 64)
        n = strcspn(hostname, ".");
    put(b, "node-name = %.*s\n", (int)n, hostname);
}

/* With Redis, history lives in Redis: pullboxd refuses a journal beside
 * it. Every pullboxd of a cluster reaches the hub's Redis over TLS, the
 * hub's own too (there is no plain port to fall back to), and checks the
 * certificate's name: the hub's against the CA file, a node against the
 * CA fingerprint it was given with the password. */
static void render_store(const struct settings *st, const struct secrets *sec, struct render_buf *b)
{
    if (is_role(st, "standalone")) {
        put_path(b, "journal-path", "data/pullbox/journal");
        put(b, "journal-max-size = 256\n");
        return;
    }
    if (is_role(st, "hub")) {
        put(b, "redis = 127.0.0.1:%d\nredis-user = %s\nredis-password = %s\n", RENDER_REDIS_PORT,
            REDIS_ACL_USER, sec->redis_password);
        put(b, "redis-tls = on\n");
        put_path(b, "redis-tls-ca", PATH_HUBCA_CERT);
    } else {
        put(b, "redis = %s\nredis-user = %s\nredis-password = %s\n", st->v[S_CLUSTER_HUB],
            REDIS_ACL_USER, sec->hub_password);
        put(b, "redis-tls = on\nredis-tls-fingerprint = %s\n", st->v[S_CLUSTER_HUB_CA]);
    }
    put(b, "redis-tls-name = %s\n", HUBCA_REDIS_NAME);
    put_node_name(b, st->v[S_HOSTNAME]);
}

long render_max_connections(unsigned long long mem_bytes)
{
    unsigned long long files = (mem_bytes >> 20) * 136;
    if (files < 65536)
        files = 65536;
    if (files > 1048576)
        files = 1048576;
    return (long)(files - 1024);
}

static void render_pullbox(const struct settings *st, const struct secrets *sec, long long now,
                           struct render_buf *b)
{
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    put(b, "# pullbox.conf: written by pullbox-apply from the appliance's settings; changes\n"
           "# here are overwritten. Keys not listed keep pullboxd's defaults\n"
           "# (pullboxd --print-config shows them all).\n"
           "listen-subscribe = 0.0.0.0:8893\n"
           "listen-subscribe-tls = 0.0.0.0:8894\n"
           "listen-publish = 0.0.0.0:8895\n"
           "listen-publish-tls = off\n");
    put_path(b, "tls-certificate", PATH_TLS_CERT);
    put_path(b, "tls-key", PATH_TLS_KEY);
    /* the chain follows the certificate in cert.pem (cert-upload) */
    put(b, "tls-chain = \n");
    render_store(st, sec, b);
    put(b, "signature-key = %s\n", sec->signature_key);
    put(b, "signature-key-previous = %s\n",
        sec->signature_key_previous[0] && sec->previous_until > now ? sec->signature_key_previous
                                                                    : "");
    put(b, "signature-algorithm = %s\n", st->v[S_SITE_SIGNATURE_ALGO]);
    /* as many subscribers as this appliance's memory holds (docs/benchmarks.md) */
    put(b, "max-connections = %ld\n",
        render_max_connections(pages > 0 && page > 0 ? (unsigned long long)pages * (unsigned long long)page
                                                     : 0));
}

static void render_firewall(const struct settings *st, struct render_buf *b)
{
    put(b,
        "# Pullbox firewall settings: written by pullbox-apply, parsed (never\n"
        "# sourced) by pullbox-firewall. Addresses or networks, IPv4 or IPv6,\n"
        "# space-separated.\n"
        "# Allowed to publish on 8895 (the Bitrix web servers). Empty: nobody.\n"
        "PUBLISHERS=\"%s\"\n"
        "# Allowed on 8893 and 8894 (browsers, mobile apps): \"any\" or networks.\n"
        "SUBSCRIBERS=\"%s\"\n"
        "# Allowed on 22 (SSH) and 80/443 (setup wizard): \"any\" or networks.\n"
        "ADMIN_NETWORKS=\"%s\"\n"
        "# Allowed on 6379 (the hub's Redis): the other appliances of the cluster.\n"
        "# Empty (and always when this appliance is not the hub): closed.\n"
        "REDIS_PEERS=\"%s\"\n"
        "# Per source address (IPv6: per /64); 0 = no limit.\n"
        "# 8893/8894: connections at once, new connections a second.\n"
        "SUBSCRIBE_CONN_PER_SOURCE=%s\n"
        "SUBSCRIBE_NEW_PER_SEC=%s\n"
        "# New connections a minute: 22 (SSH), 80/443 (setup wizard).\n"
        "SSH_NEW_PER_MIN=%s\n"
        "WIZARD_NEW_PER_MIN=%s\n",
        st->v[S_SITE_PUBLISHERS], st->v[S_FW_SUBSCRIBE_NETWORKS], st->v[S_FW_ADMIN_NETWORKS],
        is_role(st, "hub") ? st->v[S_CLUSTER_PEERS] : "", st->v[S_FW_SUBSCRIBE_CONNS],
        st->v[S_FW_SUBSCRIBE_RATE], st->v[S_FW_SSH_RATE], st->v[S_FW_WIZARD_RATE]);
}

/* The hub's Redis: reachable by the nodes over TLS only (tls-port 6379,
 * no plain port; the firewall narrows 6379 to cluster.peers), with the
 * hub's own certificate (hubca.h), the default user off and pullboxd's user limited to the
 * commands pullboxd uses and its own keys and channels (redis_acl.h), an
 * append-only file so the history survives a restart of the hub, and no
 * command that could wipe or reconfigure it from the network. */
static void render_redis(const struct secrets *sec, struct render_buf *b)
{
    put(b,
        "# redis.conf: written by pullbox-apply because this appliance is the cluster's\n"
        "# hub; changes here are overwritten. Read by the redis service.\n"
        "# TLS only: the password and the messages never cross the network in clear\n"
        "port 0\n"
        "tls-port %d\n"
        "# every IPv4 and IPv6 address (the IPv6 one only if the kernel has IPv6);\n"
        "# pullbox-firewall lets only cluster.peers reach the port\n"
        "bind 0.0.0.0 -::\n"
        "protected-mode yes\n"
        "# no one but pullboxd's user, and it only for what pullboxd runs on its keys\n"
        "user default off\n"
        "user %s reset on >%s ~pullbox:* &pullbox:* %s\n",
        RENDER_REDIS_PORT, REDIS_ACL_USER, sec->redis_password, REDIS_ACL_COMMANDS);
    put_path_word(b, "tls-cert-file", PATH_HUBCA_REDIS_CERT);
    put_path_word(b, "tls-key-file", PATH_HUBCA_REDIS_KEY);
    put_path_word(b, "tls-ca-cert-file", PATH_HUBCA_CERT);
    put(b, "# the nodes prove themselves with the password, not a certificate\n"
           "tls-auth-clients no\n"
           "tls-protocols \"TLSv1.2 TLSv1.3\"\n");
    put_path_word(b, "dir", PATH_REDIS_DATA);
    put(b,
        "# the history survives a restart of the hub: append-only file, fsync each second\n"
        "appendonly yes\n"
        "appendfsync everysec\n"
        "save \"\"\n"
        "# pullboxd answers 503 when Redis refuses a write; evicting its keys (the\n"
        "# message counter) would break the message ids\n"
        "maxmemory %s\n"
        "maxmemory-policy noeviction\n"
        "# stdout: the service's svlogd keeps it\n"
        "logfile \"\"\n"
        "daemonize no\n"
        "rename-command FLUSHALL \"\"\n"
        "rename-command FLUSHDB \"\"\n"
        "rename-command CONFIG \"\"\n"
        "rename-command DEBUG \"\"\n"
        "rename-command SHUTDOWN \"\"\n",
        RENDER_REDIS_MAXMEMORY);
}

static void render_network(const struct settings *st, struct render_buf *b)
{
    bool fixed = strcmp(st->v[S_NET_MODE], "static") == 0;

    put(b,
        "# Pullbox network settings: written by pullbox-apply, read by the network service.\n"
        "MODE=%s\n",
        st->v[S_NET_MODE]);
    if (fixed)
        put(b, "ADDRESS=%s\nGATEWAY=%s\nDNS=\"%s\"\n", st->v[S_NET_ADDRESS], st->v[S_NET_GATEWAY],
            st->v[S_NET_DNS]);
}

int render_file(enum render_file f, const struct settings *st, const struct secrets *sec,
                long long now, struct render_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->absent = false;
    put(b, "%s", "");
    switch (f) {
    case RF_PULLBOX:
        render_pullbox(st, sec, now, b);
        return 0;
    case RF_FIREWALL:
        render_firewall(st, b);
        return 0;
    case RF_NETWORK:
        render_network(st, b);
        return 0;
    case RF_NTP:
        put(b,
            "# NTP servers: written by pullbox-apply, read by the ntpd service.\n"
            "SERVERS=\"%s\"\n",
            st->v[S_NET_NTP]);
        return 0;
    case RF_HOSTNAME:
        put(b, "%s\n", st->v[S_HOSTNAME]);
        return 0;
    case RF_REDIS:
        if (!is_role(st, "hub")) {
            b->absent = true;
            return 0;
        }
        /* never a Redis open to the network without a password */
        if (secrets_check_redis_password(sec->redis_password, NULL, 0) != 0)
            break;
        render_redis(sec, b);
        return 0;
    case RF_DROPBEAR:
        /* read by /etc/sv/dropbear/run, which matches this line, never sources it */
        put(b,
            "# SSH: written by pullbox-apply from ssh.key-only, read by the dropbear service.\n"
            "PASSWORD_LOGIN=%s\n",
            strcmp(st->v[S_SSH_KEY_ONLY], "yes") == 0 ? "no" : "yes");
        return 0;
    case RF__COUNT:
        break;
    }
    render_buf_free(b);
    return -1;
}

/* path is a plain file of root's with mode (and group gid unless -1). */
static bool owned_as(const char *path, unsigned mode, long gid)
{
    struct stat st;

    return lstat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == 0 &&
           (st.st_mode & 07777) == (mode_t)mode && (gid < 0 || st.st_gid == (gid_t)gid);
}

void render_buf_free(struct render_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
}

int render_all(const struct settings *st, const struct secrets *sec, long long now,
               bool changed[RF__COUNT], char *err, size_t errlen)
{
    for (int f = 0; f < RF__COUNT; f++)
        changed[f] = false;
    for (int f = 0; f < RF__COUNT; f++) {
        struct render_buf b;
        char path[PATH_MAX];
        int d;
        long gid = -1;

        if (root_path(path, sizeof(path), render_files[f].rel) != 0) {
            snprintf(err, errlen, "the settings root is not usable");
            return -1;
        }
        if (render_file((enum render_file)f, st, sec, now, &b) != 0) {
            snprintf(err, errlen, "cannot render %s", render_files[f].rel);
            return -1;
        }
        if (b.absent) {
            changed[f] = unlink(path) == 0;
            render_buf_free(&b);
            if (!changed[f] && errno != ENOENT) {
                snprintf(err, errlen, "cannot remove %s: %s", render_files[f].rel, strerror(errno));
                return -1;
            }
            continue;
        }
        d = file_differs(path, b.data, b.len);
        if (render_files[f].group) {
            struct group *g = getgrnam(render_files[f].group);
            if (g)
                gid = (long)g->gr_gid;
        }
        /* the right text is not enough: a file that is not root's with its
         * mode and group (one another user came to own, say) is written
         * anew; its service needs nothing (the text is the same) */
        if ((d != 0 || !owned_as(path, render_files[f].mode, gid)) &&
            file_write_atomic_owned(path, b.data, b.len, render_files[f].mode, 0, gid, err,
                                    errlen) != 0) {
            render_buf_free(&b);
            return -1;
        }
        changed[f] = d != 0;
        render_buf_free(&b);
    }
    return 0;
}

/* The lines of a pullbox.conf whose key pullboxd reads only at its start
 * (marked so in its config table), in order, as one string (malloc'ed). */
static char *restart_lines(const char *conf)
{
    struct render_buf b = {0};

    put(&b, "%s", "");
    for (const char *p = conf; p && *p;) {
        size_t n = strcspn(p, "\n"), k = strcspn(p, " =\n");
        char key[64];
        if (k < sizeof key) {
            memcpy(key, p, k);
            key[k] = '\0';
            if (config_key_restart_only(key))
                put(&b, "%.*s\n", (int)n, p);
        }
        p += n + (p[n] == '\n');
    }
    return b.data;
}

bool render_pullbox_needs_restart(const char *before, const char *after)
{
    char *a, *b;
    bool differ;

    if (before == NULL)
        return false;
    a = restart_lines(before);
    b = restart_lines(after);
    differ = strcmp(a, b) != 0;
    free(a);
    free(b);
    return differ;
}

int render_firewall_rules(const struct settings *st, struct render_buf *b, char *err, size_t errlen)
{
    struct render_buf conf;
    char tmpl[] = "/tmp/pullbox-firewall-XXXXXX", prog[PATH_MAX], envconf[PATH_MAX + 32];
    char *out = NULL;
    size_t outlen = 0;
    int fd, rc;

    b->data = NULL;
    b->len = 0;
    if (root_path(prog, sizeof(prog), PATH_SBIN "/pullbox-firewall") != 0) {
        snprintf(err, errlen, "the settings root is not usable");
        return -1;
    }
    render_file(RF_FIREWALL, st, NULL, 0, &conf);
    fd = mkstemp(tmpl);
    if (fd < 0 || write(fd, conf.data, conf.len) != (ssize_t)conf.len) {
        snprintf(err, errlen, "cannot write a temporary file: %s", strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(tmpl);
        }
        render_buf_free(&conf);
        return -1;
    }
    close(fd);
    render_buf_free(&conf);
    snprintf(envconf, sizeof(envconf), "PULLBOX_FIREWALL_CONF=%s", tmpl);
    const char *argv[] = {prog, "print", NULL};
    const char *envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", envconf, NULL};
    rc = root_run(argv, envp, NULL, 10, &out, &outlen, err, errlen);
    unlink(tmpl);
    if (rc != 0) {
        free(out);
        return -1;
    }
    b->data = out;
    b->len = outlen;
    return 0;
}
