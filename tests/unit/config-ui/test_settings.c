/* Unit tests for config-ui/lib/settings.c: the table, every validator kind
 * with good and hostile values, the rules between fields, the file. */
#include "settings.h"

#include "tap.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char err[SETTING_ERR_MAX];

static int set(struct settings *s, enum setting_id id, const char *v)
{
    err[0] = '\0';
    return settings_set(s, id, v, err, sizeof(err));
}

/* refused, the stored value unchanged, and the message names the field */
static int refused(enum setting_id id, const char *v)
{
    struct settings s, before;

    settings_defaults(&s);
    before = s;
    if (set(&s, id, v) == 0)
        return 0;
    return settings_equal(&s, &before) &&
           strncmp(err, setting_defs[id].label, strlen(setting_defs[id].label)) == 0;
}

static void test_table(void)
{
    struct settings s;
    enum setting_id bad;

    settings_defaults(&s);
    for (int i = 0; i < S__COUNT; i++) {
        const struct setting_def *d = &setting_defs[i];
        ok(d->key && d->label && d->accepted && d->def, d->key ? d->key : "a row");
        ok(setting_find(d->key) == i, "setting_find finds its key");
    }
    ok(strcmp(s.v[S_HOSTNAME], "pullbox") == 0, "hostname default pullbox");
    ok(strcmp(s.v[S_NET_MODE], "dhcp") == 0, "network.mode default dhcp");
    ok(strcmp(s.v[S_NET_NTP], "pool.ntp.org") == 0, "ntp default pool.ntp.org");
    ok(s.v[S_SITE_PUBLIC_NAME][0] == '\0', "public name empty: the wizard asks");
    ok(strcmp(s.v[S_SITE_VERSION], "4") == 0, "site.version 4");
    ok(strcmp(s.v[S_SITE_SIGNATURE_ALGO], "sha1") == 0, "sha1");
    ok(strcmp(s.v[S_FW_SUBSCRIBE_NETWORKS], "any") == 0 &&
           strcmp(s.v[S_FW_ADMIN_NETWORKS], "any") == 0,
       "firewall defaults any");
    ok(strcmp(s.v[S_KEY_GRACE_PERIOD], "86400") == 0, "grace 86400");
    ok(settings_check(&s, &bad, err, sizeof(err)) == 0, "the defaults pass settings_check");
    /* every default is accepted by its own validator */
    for (int i = 0; i < S__COUNT; i++) {
        struct settings t = s;
        ok(set(&t, (enum setting_id)i, setting_defs[i].def) == 0,
           "default accepted by its validator");
    }
    ok(setting_find("no.such") == -1, "unknown key: -1");
}

static void test_good_values(void)
{
    struct settings s;

    settings_defaults(&s);
    ok(set(&s, S_HOSTNAME, "push-1.example.com") == 0, "host name with dots and hyphen");
    ok(set(&s, S_NET_ADDRESS, " 192.0.2.10/24 ") == 0 &&
           strcmp(s.v[S_NET_ADDRESS], "192.0.2.10/24") == 0,
       "address trimmed");
    ok(set(&s, S_NET_DNS, "  192.0.2.1    2001:db8::1 ") == 0 &&
           strcmp(s.v[S_NET_DNS], "192.0.2.1 2001:db8::1") == 0,
       "list normalized to single spaces");
    ok(set(&s, S_NET_NTP, "") == 0 && s.v[S_NET_NTP][0] == '\0', "ntp may be empty");
    ok(set(&s, S_NET_NTP, "0.pool.ntp.org 192.0.2.1 time.example") == 0, "ntp hosts and addresses");
    ok(set(&s, S_SITE_PUBLIC_NAME, "2001:db8::10") == 0, "public name may be IPv6");
    ok(set(&s, S_SITE_PUBLISHERS, "192.0.2.5 198.51.100.0/24 2001:db8::/32") == 0, "publishers");
    ok(set(&s, S_FW_SUBSCRIBE_NETWORKS, "10.0.0.0/8") == 0, "subscribe networks");
    ok(set(&s, S_FW_ADMIN_NETWORKS, "any") == 0, "admin any");
    ok(set(&s, S_SITE_VERSION, "5") == 0, "version 5");
    ok(set(&s, S_KEY_GRACE_PERIOD, "0") == 0 && set(&s, S_KEY_GRACE_PERIOD, "604800") == 0,
       "grace bounds");
}

static void test_messages(void)
{
    struct settings s;

    settings_defaults(&s);
    ok(set(&s, S_NET_GATEWAY, "10.0.0.300") != 0 &&
           strcmp(err, "Gateway: 10.0.0.300 is not an IPv4 address (four numbers 0-255, like "
                       "192.0.2.1)") == 0,
       "the gateway message says what is accepted");
    note("%s", err);
    ok(set(&s, S_NET_MODE, "manual") != 0 && strstr(err, "dhcp or static"),
       "choice lists the choices");
    ok(set(&s, S_HOSTNAME, "a;b") != 0 && strstr(err, "';'") && strstr(err, "Host name"),
       "names the refused character");
    ok(set(&s, S_HOSTNAME, "a\nb") != 0 && strstr(err, "line break"), "a newline is named");
}

static void test_hostile(void)
{
    static const char *const meta[] = {
        ";", "|", "&", "$", "`", "(", ")", "<",  ">",  "'",  "\"",   "\\",   "*",       "?",
        "!", "{", "#", "~", "=", "%", ",", "\t", "\n", "\r", "\x01", "\x7f", "\xc3\xa9"};
    char v[SETTING_VALUE_MAX * 2];

    for (int id = 0; id < S__COUNT; id++) {
        int all = 1;
        for (size_t m = 0; m < sizeof(meta) / sizeof(meta[0]); m++) {
            snprintf(v, sizeof(v), "192.0.2.1%sreboot", meta[m]);
            all &= refused((enum setting_id)id, v);
            snprintf(v, sizeof(v), "%spullbox", meta[m]);
            all &= refused((enum setting_id)id, v);
        }
        ok(all, setting_defs[id].key);
    }
    memset(v, 'a', SETTING_VALUE_MAX + 10);
    v[SETTING_VALUE_MAX + 10] = '\0';
    for (int id = 0; id < S__COUNT; id++)
        ok(refused((enum setting_id)id, v) && strstr(err, "too long"), "over-long refused");
    memset(v, 'a', 254);
    v[254] = '\0';
    ok(refused(S_HOSTNAME, v), "hostname over 253");
    memset(v, 'a', 64);
    strcpy(v + 64, ".example");
    ok(refused(S_HOSTNAME, v), "a label over 63");
    ok(refused(S_HOSTNAME, "-lead.example") && refused(S_HOSTNAME, "a..b") &&
           refused(S_HOSTNAME, "") && refused(S_HOSTNAME, "a.b."),
       "bad host names");
    ok(refused(S_SITE_PUBLIC_NAME, "10.0.0.300") && strstr(err, "not an IPv4 address"),
       "a mistyped address is not a host name");
    ok(refused(S_NET_GATEWAY, "010.0.0.1") && refused(S_NET_GATEWAY, "1.2.3") &&
           refused(S_NET_GATEWAY, "2001:db8::1"),
       "gateway: IPv4 only, no leading zeros");
    ok(refused(S_NET_ADDRESS, "192.0.2.10") && strstr(err, "prefix"), "address needs a prefix");
    ok(refused(S_NET_ADDRESS, "192.0.2.10/33") && refused(S_NET_ADDRESS, "192.0.2.10/024") &&
           refused(S_NET_ADDRESS, "192.0.2.10/"),
       "bad prefix lengths");
    ok(refused(S_SITE_PUBLISHERS, "2001:db8::/129") && refused(S_SITE_PUBLISHERS, "any") &&
           refused(S_SITE_PUBLISHERS, "192.0.2.0/24/8"),
       "bad publisher networks");
    ok(refused(S_FW_SUBSCRIBE_NETWORKS, "any 10.0.0.0/8"), "any stands alone");
    ok(refused(S_FW_ADMIN_NETWORKS, ""), "admin networks may not be empty");
    ok(refused(S_NET_DNS, "192.0.2.1 192.0.2.2 192.0.2.3 192.0.2.4") && strstr(err, "more than 3"),
       "DNS: at most 3");
    v[0] = '\0';
    for (int i = 0; i < SETTING_LIST_MAX + 1; i++)
        snprintf(v + strlen(v), sizeof(v) - strlen(v), "192.0.2.%d ", i + 1);
    ok(refused(S_SITE_PUBLISHERS, v), "publishers: at most 16");
    ok(refused(S_NET_NTP, "a b c d e"), "ntp: at most 4");
    ok(refused(S_KEY_GRACE_PERIOD, "-1") && refused(S_KEY_GRACE_PERIOD, "604801") &&
           refused(S_KEY_GRACE_PERIOD, "1e3") && refused(S_KEY_GRACE_PERIOD, "99999999999999"),
       "grace period bounds");
    ok(refused(S_FW_SUBSCRIBE_CONNS, "100001") && refused(S_FW_SUBSCRIBE_RATE, "10001") &&
           refused(S_FW_SSH_RATE, "0") && refused(S_FW_WIZARD_RATE, "1001") &&
           refused(S_FW_SSH_RATE, "5/minute") && refused(S_FW_SUBSCRIBE_CONNS, "") &&
           strstr(err, "Connections per source"),
       "firewall limits: whole numbers in their bounds, never a rule fragment");
    static struct settings off;
    settings_defaults(&off);
    ok(set(&off, S_FW_SUBSCRIBE_CONNS, "0") == 0 && set(&off, S_FW_SUBSCRIBE_RATE, "0") == 0,
       "the subscriber limits can be turned off");
    ok(refused(S_NET_MODE, "DHCP") && refused(S_SITE_VERSION, "6") &&
           refused(S_SITE_SIGNATURE_ALGO, "md5"),
       "choices are exact");
}

static void test_check(void)
{
    struct settings s;
    enum setting_id bad = S__COUNT;

    settings_defaults(&s);
    set(&s, S_NET_MODE, "static");
    ok(settings_check(&s, &bad, err, sizeof(err)) != 0 && bad == S_NET_ADDRESS,
       "static needs an address");
    set(&s, S_NET_ADDRESS, "192.0.2.10/24");
    ok(settings_check(&s, &bad, err, sizeof(err)) != 0 && bad == S_NET_GATEWAY,
       "static needs a gateway");
    set(&s, S_NET_GATEWAY, "198.51.100.1");
    ok(settings_check(&s, &bad, err, sizeof(err)) != 0 && bad == S_NET_GATEWAY &&
           strstr(err, "not in the network"),
       "gateway outside the address's network");
    note("%s", err);
    set(&s, S_NET_GATEWAY, "192.0.2.10");
    ok(settings_check(&s, &bad, err, sizeof(err)) != 0 && bad == S_NET_GATEWAY,
       "gateway = own address");
    set(&s, S_NET_GATEWAY, "192.0.2.1");
    ok(settings_check(&s, &bad, err, sizeof(err)) == 0, "a consistent static setup");
    set(&s, S_NET_ADDRESS, "192.0.2.0/24");
    ok(settings_check(&s, &bad, err, sizeof(err)) != 0 && bad == S_NET_ADDRESS,
       "network address refused");
    set(&s, S_NET_ADDRESS, "192.0.2.255/24");
    ok(settings_check(&s, &bad, err, sizeof(err)) != 0 && bad == S_NET_ADDRESS,
       "broadcast refused");
    set(&s, S_NET_MODE, "dhcp");
    ok(settings_check(&s, &bad, err, sizeof(err)) == 0, "dhcp ignores the static fields");
}

static void test_cluster(void)
{
    struct settings s;
    enum setting_id bad = S__COUNT;
    static const char *const good_hubs[] = {
        "192.0.2.20",     "192.0.2.20:6379",     "hub.example.com:7000", "hub",
        "[2001:db8::20]", "[2001:db8::20]:6380", "192.0.2.20:65535",     "192.0.2.20:1",
    };
    static const char *const bad_hubs[] = {
        "2001:db8::20", /* colons of a bare IPv6 address read as a port */
        "192.0.2.20:0",
        "192.0.2.20:65536",
        "192.0.2.20:06379",
        "192.0.2.20:",
        ":6379",
        "192.0.2.300:6379",
        "[192.0.2.20]:6379",
        "[2001:db8::20",
        "[2001:db8::20]x",
        "hub:port",
        "hub;reboot:6379",
        "hub 6379",
        "unix:/tmp/redis.sock",
        "$(reboot)",
    };

    settings_defaults(&s);
    ok(strcmp(s.v[S_CLUSTER_ROLE], "standalone") == 0 && s.v[S_CLUSTER_HUB][0] == '\0' &&
           s.v[S_CLUSTER_PEERS][0] == '\0',
       "cluster defaults: standalone, no hub, no peers");
    ok(set(&s, S_CLUSTER_ROLE, "hub") == 0 && set(&s, S_CLUSTER_ROLE, "node") == 0 &&
           set(&s, S_CLUSTER_ROLE, "standalone") == 0,
       "the three roles");
    ok(refused(S_CLUSTER_ROLE, "master") && strstr(err, "standalone (one appliance)") != NULL,
       "another role refused, naming the field and the choices");
    ok(refused(S_CLUSTER_ROLE, "Hub") && refused(S_CLUSTER_ROLE, ""), "roles are exact");
    for (size_t i = 0; i < sizeof(good_hubs) / sizeof(good_hubs[0]); i++) {
        settings_defaults(&s);
        ok(set(&s, S_CLUSTER_HUB, good_hubs[i]) == 0 &&
               strcmp(s.v[S_CLUSTER_HUB], good_hubs[i]) == 0,
           "hub accepted as typed");
        if (err[0])
            note("%s: %s", good_hubs[i], err);
    }
    for (size_t i = 0; i < sizeof(bad_hubs) / sizeof(bad_hubs[0]); i++) {
        ok(refused(S_CLUSTER_HUB, bad_hubs[i]) && strstr(err, "6379 if left out") != NULL,
           "bad hub refused with the field and what is accepted");
        note("%s -> %s", bad_hubs[i], err);
    }
    ok(refused(S_CLUSTER_HUB, "2001:db8::20") && strstr(err, "brackets") != NULL,
       "a bare IPv6 hub: the message says to use brackets");
    settings_defaults(&s);
    ok(set(&s, S_CLUSTER_PEERS, " 192.0.2.21   192.0.2.0/24 2001:db8::/64 ") == 0 &&
           strcmp(s.v[S_CLUSTER_PEERS], "192.0.2.21 192.0.2.0/24 2001:db8::/64") == 0,
       "peers: addresses and networks, normalized");
    ok(refused(S_CLUSTER_PEERS, "any") && strstr(err, "Cluster peers") == err,
       "peers: any is refused (Redis is never open to all)");
    ok(refused(S_CLUSTER_PEERS, "192.0.2.0/33") && refused(S_CLUSTER_PEERS, "peer.example.com"),
       "peers: a bad prefix, a host name");

    /* rules between fields */
    settings_defaults(&s);
    set(&s, S_CLUSTER_ROLE, "node");
    ok(settings_check(&s, &bad, err, sizeof(err)) != 0 && bad == S_CLUSTER_HUB &&
           strncmp(err, "Hub address: a node needs the hub's address", 43) == 0,
       "role node without a hub: blames the hub address");
    note("%s", err);
    static const char *const selves[] = {"127.0.0.1", "127.1.2.3:6379", "localhost", "[::1]:6379",
                                         "PULLBOX:6379"};
    for (size_t i = 0; i < sizeof(selves) / sizeof(selves[0]); i++) {
        set(&s, S_CLUSTER_HUB, selves[i]);
        ok(settings_check(&s, &bad, err, sizeof(err)) != 0 && bad == S_CLUSTER_HUB &&
               strstr(err, "this appliance itself"),
           "a node's hub is not this appliance");
    }
    set(&s, S_CLUSTER_HUB, "192.0.2.20");
    ok(settings_check(&s, &bad, err, sizeof(err)) != 0 && bad == S_CLUSTER_HUB_CA &&
           strstr(err, "Hub CA fingerprint: a node needs the hub's CA fingerprint") == err,
       "a node without the hub's CA fingerprint: blames it (no TLS without a pin)");
    ok(refused(S_CLUSTER_HUB_CA, "5D:0E") && strstr(err, "is not 64 hex digits") &&
           refused(S_CLUSTER_HUB_CA, "zz") && refused(S_CLUSTER_HUB_CA, "a b"),
       "the fingerprint: 64 hex digits, nothing else");
    ok(set(&s, S_CLUSTER_HUB_CA, "5d0e112233445566778899aabbccddeeff00112233445566778899aabbccdd9a") ==
           0,
       "the fingerprint without colons");
    ok(set(&s, S_CLUSTER_HUB_CA, "5D:0E:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:"
                                 "55:66:77:88:99:AA:BB:CC:DD:9A") == 0,
       "and with colons, as the hub shows it");
    ok(settings_check(&s, &bad, err, sizeof(err)) == 0, "node with a hub and its CA passes");
    set(&s, S_CLUSTER_HUB, "");
    set(&s, S_CLUSTER_ROLE, "hub");
    ok(settings_check(&s, &bad, err, sizeof(err)) == 0, "a hub needs no hub address nor peers");
    set(&s, S_CLUSTER_ROLE, "standalone");
    set(&s, S_CLUSTER_HUB, "127.0.0.1");
    ok(settings_check(&s, &bad, err, sizeof(err)) == 0, "standalone ignores the hub address");
    set(&s, S_CLUSTER_ROLE, "node");
    set(&s, S_CLUSTER_HUB, "192.0.2.20");
    set(&s, S_NET_MODE, "static");
    ok(settings_check(&s, &bad, err, sizeof(err)) != 0 && bad == S_NET_ADDRESS,
       "the network rules still run with a cluster role");
}

static void test_file(void)
{
    char dir[] = "/tmp/test_settings-XXXXXX", path[256];
    struct settings s, t;
    FILE *f;

    ok(mkdtemp(dir) != NULL, "temp dir");
    snprintf(path, sizeof(path), "%s/settings.conf", dir);
    ok(settings_load(&s, path, err, sizeof(err)) == 0 && strcmp(s.v[S_HOSTNAME], "pullbox") == 0,
       "a missing file gives the defaults");
    set(&s, S_HOSTNAME, "box");
    set(&s, S_SITE_PUBLISHERS, "192.0.2.5 192.0.2.6");
    ok(settings_save(&s, path, 0640, err, sizeof(err)) == 0, "save");
    struct stat st;
    ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0640, "mode 0640");
    ok(settings_load(&t, path, err, sizeof(err)) == 0 && settings_equal(&s, &t), "round trip");
    f = fopen(path, "w");
    fputs("# comment\nhostname = other\n", f);
    fclose(f);
    ok(settings_load(&t, path, err, sizeof(err)) == 0 && strcmp(t.v[S_HOSTNAME], "other") == 0 &&
           strcmp(t.v[S_NET_NTP], "pool.ntp.org") == 0,
       "a key missing from the file has its default");
    f = fopen(path, "w");
    fputs("hostname = a\nbogus = 1\n", f);
    fclose(f);
    ok(settings_load(&t, path, err, sizeof(err)) != 0 && strstr(err, "line 2") &&
           strstr(err, "bogus"),
       "an unknown key names its line");
    f = fopen(path, "w");
    fputs("network.gateway = 1.2.3.4; reboot\n", f);
    fclose(f);
    ok(settings_load(&t, path, err, sizeof(err)) != 0 && strstr(err, "Gateway"),
       "an invalid value is an error");
    f = fopen(path, "w");
    fputs("hostname = a\nhostname = b\n", f);
    fclose(f);
    ok(settings_load(&t, path, err, sizeof(err)) != 0 && strstr(err, "twice"), "a key set twice");
    unlink(path);
    rmdir(dir);
}

static void test_split(void)
{
    char buf[128];
    const char *e[4];

    ok(settings_split("a b  c", buf, sizeof(buf), e, 4) == 3 && strcmp(e[2], "c") == 0, "split");
    ok(settings_split("a b c d e", buf, sizeof(buf), e, 4) == 4, "split stops at max");
    ok(settings_split("", buf, sizeof(buf), e, 4) == 0, "empty");
}

int main(void)
{
    subtest("table and defaults", test_table);
    subtest("good values", test_good_values);
    subtest("messages", test_messages);
    subtest("hostile values", test_hostile);
    subtest("rules between fields", test_check);
    subtest("cluster", test_cluster);
    subtest("the file", test_file);
    subtest("split", test_split);
    return done_testing();
}
