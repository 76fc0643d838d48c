/* The admin's settings: one table of keys, one validator per kind of value
 * (allow-lists, never deny-lists), one file format. */
#include "settings.h"

#include "fileio.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SETTINGS_FILE_MAX (64 * 1024)

static const char *const mode_choices[] = {"dhcp", "static", NULL};
static const char *const version_choices[] = {"2", "3", "4", "5", NULL};
static const char *const algo_choices[] = {"sha1", "sha256", NULL};
static const char *const role_choices[] = {"standalone", "hub", "node", NULL};
static const char *const yes_no_choices[] = {"no", "yes", NULL};

const struct setting_def setting_defs[S__COUNT] = {
    [S_HOSTNAME] = {"hostname", "Host name",
                    "letters, digits and hyphens in dot-separated labels of at most 63 (253 in "
                    "all), like pullbox or push.example.com",
                    "pullbox", SK_HOSTNAME, NULL, 0, 0, false},
    [S_NET_MODE] = {"network.mode", "Address mode", "dhcp or static", "dhcp", SK_CHOICE,
                    mode_choices, 0, 0, false},
    [S_NET_ADDRESS] = {"network.address", "Address",
                       "an IPv4 address with its prefix length, like 192.0.2.10/24", "",
                       SK_IPV4_CIDR, NULL, 0, 0, true},
    [S_NET_GATEWAY] = {"network.gateway", "Gateway", "four numbers 0-255, like 192.0.2.1", "",
                       SK_IPV4, NULL, 0, 0, true},
    [S_NET_DNS] = {"network.dns", "DNS servers",
                   "up to 3 IPv4 or IPv6 addresses separated by spaces, like 192.0.2.1 "
                   "2001:db8::1",
                   "", SK_ADDR_LIST, NULL, 0, 3, true},
    [S_NET_NTP] = {"network.ntp", "NTP servers",
                   "up to 4 host names or addresses separated by spaces, like pool.ntp.org; empty "
                   "for no time sync",
                   "pool.ntp.org", SK_HOST_LIST, NULL, 0, 4, true},
    [S_SITE_PUBLIC_NAME] = {"site.public-name", "Public name",
                            "the host name or address browsers use to reach this appliance, like "
                            "push.example.com or 192.0.2.10",
                            "", SK_HOST, NULL, 0, 0, true},
    [S_SITE_PUBLISHERS] = {"site.publishers", "Bitrix web servers",
                           "up to 16 IPv4 or IPv6 addresses or networks separated by spaces, like "
                           "192.0.2.5 or 192.0.2.0/24",
                           "", SK_NET_LIST, NULL, 0, SETTING_LIST_MAX, true},
    [S_SITE_VERSION] = {"site.version", "Queue server version", "2, 3, 4 or 5", "4", SK_CHOICE,
                        version_choices, 0, 0, false},
    [S_SITE_SIGNATURE_ALGO] = {"site.signature-algorithm", "Signature algorithm", "sha1 or sha256",
                               "sha1", SK_CHOICE, algo_choices, 0, 0, false},
    [S_FW_SUBSCRIBE_NETWORKS] = {"firewall.subscribe", "Subscribers (ports 8893, 8894)",
                                 "any, or up to 16 IPv4 or IPv6 addresses or networks separated "
                                 "by spaces, like 192.0.2.0/24",
                                 "any", SK_NET_LIST_ANY, NULL, 0, SETTING_LIST_MAX, false},
    [S_FW_ADMIN_NETWORKS] = {"firewall.admin", "Admin networks (ports 22, 80, 443)",
                             "any, or up to 16 IPv4 or IPv6 addresses or networks separated by "
                             "spaces, like 192.0.2.0/24",
                             "any", SK_NET_LIST_ANY, NULL, 0, SETTING_LIST_MAX, false},
    [S_KEY_GRACE_PERIOD] = {"key.grace-period", "Old key grace period",
                            "a number of seconds from 0 to 604800 (7 days), like 86400", "86400",
                            SK_INT, NULL, 0, 604800, false},
    [S_CLUSTER_ROLE] = {"cluster.role", "Cluster role",
                        "standalone (one appliance), hub (this appliance runs the shared Redis) "
                        "or node (use the hub's Redis)",
                        "standalone", SK_CHOICE, role_choices, 0, 0, false},
    [S_CLUSTER_HUB] = {"cluster.hub", "Hub address",
                       "the hub's host name or address with an optional port 1-65535 (6379 if "
                       "left out), like 192.0.2.20:6379, hub.example.com or [2001:db8::20]:6379",
                       "", SK_HOST_PORT, NULL, 0, 0, true},
    [S_CLUSTER_PEERS] = {"cluster.peers", "Cluster peers (port 6379)",
                         "up to 16 IPv4 or IPv6 addresses or networks of the other appliances "
                         "separated by spaces, like 192.0.2.21 192.0.2.0/24; empty for none",
                         "", SK_NET_LIST, NULL, 0, SETTING_LIST_MAX, true},
    /* Per source address (an IPv6 /64). A whole office behind one NAT is one
     * source, so the subscriber defaults fit a few thousand browsers there
     * (one connection each, reconnecting together after a restart: dropped
     * SYNs are retried by their TCP a second later), while one host alone
     * cannot take the 100000 connections pullboxd and conntrack are sized for. */
    [S_FW_SUBSCRIBE_CONNS] = {"firewall.subscribe-connections", "Connections per source (8893, 8894)",
                              "a number from 0 (no limit) to 100000, like 5000", "5000", SK_INT,
                              NULL, 0, 100000, false},
    [S_FW_SUBSCRIBE_RATE] = {"firewall.subscribe-rate",
                             "New connections a second per source (8893, 8894)",
                             "a number from 0 (no limit) to 10000, like 200", "200", SK_INT, NULL, 0,
                             10000, false},
    /* A person opens a few SSH sessions a minute; at 10 a guesser gets at most
     * 10 connections a minute instead of about 15 guesses a second. */
    [S_FW_SSH_RATE] = {"firewall.ssh-rate", "New SSH connections a minute per source (22)",
                       "a number from 1 to 1000, like 10", "10", SK_INT, NULL, 1, 1000, false},
    /* a browser opens up to 6 connections per page over HTTP/1.1 */
    [S_FW_WIZARD_RATE] = {"firewall.wizard-rate",
                          "New wizard connections a minute per source (80, 443)",
                          "a number from 1 to 1000, like 120", "120", SK_INT, NULL, 1, 1000, false},
    /* no by default: the appliance has no key until the admin adds one, and
     * the password from the claim must log in; the apply service refuses
     * yes while no key is installed */
    [S_SSH_KEY_ONLY] = {"ssh.key-only", "SSH logins with a key only",
                        "no (a password or a key) or yes (a key only: SSH refuses passwords)",
                        "no", SK_CHOICE, yes_no_choices, 0, 0, false},
};

void settings_defaults(struct settings *s)
{
    memset(s, 0, sizeof(*s));
    for (int i = 0; i < S__COUNT; i++)
        snprintf(s->v[i], sizeof(s->v[i]), "%s", setting_defs[i].def);
}

bool settings_equal(const struct settings *a, const struct settings *b)
{
    for (int i = 0; i < S__COUNT; i++)
        if (strcmp(a->v[i], b->v[i]) != 0)
            return false;
    return true;
}

int setting_find(const char *key)
{
    for (int i = 0; i < S__COUNT; i++)
        if (strcmp(setting_defs[i].key, key) == 0)
            return i;
    return -1;
}

/* ---- single values ---- */

static bool is_ipv4(const char *s)
{
    struct in_addr a;
    return inet_pton(AF_INET, s, &a) == 1;
}

static bool is_ipv6(const char *s)
{
    struct in6_addr a;
    return strchr(s, ':') != NULL && inet_pton(AF_INET6, s, &a) == 1;
}

static bool all_digits(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    return true;
}

/* RFC 1123 host name; the last label is not all digits (RFC 3696), so a
 * mistyped address like 10.0.0.300 is not taken for a name. */
static bool is_hostname(const char *s)
{
    size_t total = strlen(s);
    const char *label = s;

    if (total == 0 || total > 253)
        return false;
    for (;;) {
        const char *dot = strchr(label, '.');
        size_t n = dot ? (size_t)(dot - label) : strlen(label);
        if (n == 0 || n > 63 || label[0] == '-' || label[n - 1] == '-')
            return false;
        for (size_t i = 0; i < n; i++)
            if (!isalnum((unsigned char)label[i]) && label[i] != '-')
                return false;
        if (dot == NULL)
            return !all_digits(label, n);
        label = dot + 1;
    }
}

/* "addr/prefix"; family 4, 6 or 0 (either). */
static bool is_cidr(const char *s, int family)
{
    char addr[64];
    const char *slash = strchr(s, '/');
    size_t n;
    int max;

    if (slash == NULL || (n = (size_t)(slash - s)) >= sizeof(addr) ||
        !all_digits(slash + 1, strlen(slash + 1)) || strlen(slash + 1) > 3 ||
        (slash[1] == '0' && slash[2] != '\0'))
        return false;
    memcpy(addr, s, n);
    addr[n] = '\0';
    if (family != 6 && is_ipv4(addr))
        max = 32;
    else if (family != 4 && is_ipv6(addr))
        max = 128;
    else
        return false;
    return atoi(slash + 1) <= max;
}

/* "host", "host:port", "[v6]" or "[v6]:port"; the port 1-65535 without a
 * leading zero. A bare IPv6 address is refused: its colons would read as a
 * port (pullboxd's redis parser takes the last colon). */
static const char *check_host_port(const char *v)
{
    char host[256];
    const char *port = NULL, *end;
    bool bracketed = v[0] == '[';
    size_t n;

    if (bracketed) {
        end = strchr(v, ']');
        if (end == NULL)
            return "has a '[' without its ']'";
        n = (size_t)(end - v - 1);
        if (end[1] != '\0' && end[1] != ':')
            return "has text after the ']' that is not :port";
        port = end[1] == ':' ? end + 2 : NULL;
        v++;
    } else {
        end = strchr(v, ':');
        if (end && strchr(end + 1, ':'))
            return "is an IPv6 address without brackets (write it like [2001:db8::20]:6379)";
        n = end ? (size_t)(end - v) : strlen(v);
        port = end ? end + 1 : NULL;
    }
    if (n == 0 || n >= sizeof(host))
        return "has no host before the port";
    memcpy(host, v, n);
    host[n] = '\0';
    if (bracketed && !is_ipv6(host))
        return "has no IPv6 address between the brackets";
    if (!bracketed && !is_ipv4(host) && !is_hostname(host))
        return "is not a host name or an address";
    if (port && (!all_digits(port, strlen(port)) || strlen(port) > 5 || port[0] == '0' ||
                 atol(port) > 65535))
        return "has a port that is not a number 1-65535";
    return NULL;
}

/* One entry of a list or a single value, by kind; the message after the
 * quoted value says what is wrong. */
static const char *check_one(const struct setting_def *d, const char *v)
{
    switch (d->kind) {
    case SK_HOSTNAME:
        if (strlen(v) > 253)
            return "is longer than 253 characters";
        return is_hostname(v) ? NULL : "is not a valid host name";
    case SK_HOST:
    case SK_HOST_LIST:
        if (is_ipv4(v) || is_ipv6(v) || is_hostname(v))
            return NULL;
        return strspn(v, "0123456789.") == strlen(v) ? "is not an IPv4 address"
                                                     : "is not a host name or an address";
    case SK_CHOICE:
        for (const char *const *c = d->choices; *c; c++)
            if (strcmp(*c, v) == 0)
                return NULL;
        return "is not one of the choices";
    case SK_IPV4_CIDR:
        if (strchr(v, '/') == NULL)
            return "has no prefix length (add it, like /24)";
        return is_cidr(v, 4) ? NULL : "is not an IPv4 address with a prefix length 0-32";
    case SK_IPV4:
        return is_ipv4(v) ? NULL : "is not an IPv4 address";
    case SK_ADDR_LIST:
        return is_ipv4(v) || is_ipv6(v) ? NULL : "is not an IPv4 or IPv6 address";
    case SK_NET_LIST:
    case SK_NET_LIST_ANY:
        if (strcmp(v, "any") == 0)
            return d->kind == SK_NET_LIST_ANY ? NULL : "is not accepted here (list the addresses)";
        if (strchr(v, '/'))
            return is_cidr(v, 0) ? NULL : "is not a network (address/prefix, like 192.0.2.0/24)";
        return is_ipv4(v) || is_ipv6(v) ? NULL : "is not an IPv4 or IPv6 address or network";
    case SK_INT: {
        char *end;
        long n;
        if (!all_digits(v, strlen(v)) || strlen(v) > 9)
            return "is not a whole number";
        errno = 0;
        n = strtol(v, &end, 10);
        return n < d->min || n > d->max ? "is out of range" : NULL;
    }
    case SK_HOST_PORT:
        return check_host_port(v);
    }
    return "is not accepted";
}

static bool is_list(enum setting_kind k)
{
    return k == SK_ADDR_LIST || k == SK_NET_LIST || k == SK_NET_LIST_ANY || k == SK_HOST_LIST;
}

/* The characters each kind may hold at all: anything else (shell
 * metacharacters, quotes, control characters) is refused before parsing. */
static const char *allowed_chars(enum setting_kind k)
{
    switch (k) {
    case SK_HOSTNAME:
    case SK_HOST:
    case SK_HOST_LIST:
        return "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:";
    case SK_INT:
        return "0123456789";
    case SK_HOST_PORT:
        return "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]";
    case SK_CHOICE:
        return "abcdefghijklmnopqrstuvwxyz0123456789";
    default:
        return "abcdefABCDEF0123456789.:/ny";
    }
}

static void describe_char(unsigned char c, char *out, size_t outlen)
{
    if (c == '\n')
        snprintf(out, outlen, "a line break");
    else if (c == '\t')
        snprintf(out, outlen, "a tab");
    else if (c < 0x20 || c == 0x7f)
        snprintf(out, outlen, "a control character (0x%02x)", c);
    else if (c >= 0x80)
        snprintf(out, outlen, "a non-ASCII character");
    else if (c == ' ')
        snprintf(out, outlen, "a space");
    else
        snprintf(out, outlen, "the character '%c'", c);
}

/* The value as shown in a message: at most 60 bytes, printable only. */
static void quote_value(const char *v, char *out, size_t outlen)
{
    size_t j = 0;

    for (size_t i = 0; v[i] && j + 4 < outlen; i++) {
        if (i == 60) {
            out[j++] = '.';
            out[j++] = '.';
            out[j++] = '.';
            break;
        }
        unsigned char c = (unsigned char)v[i];
        out[j++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    out[j] = '\0';
}

int settings_set(struct settings *s, enum setting_id id, const char *value, char *err,
                 size_t errlen)
{
    const struct setting_def *d;
    char norm[SETTING_VALUE_MAX], entry[SETTING_VALUE_MAX], q[80];
    const char *allowed, *p;
    size_t vlen, n = 0, count = 0;

    if ((int)id < 0 || id >= S__COUNT || value == NULL) {
        snprintf(err, errlen, "unknown setting");
        return -1;
    }
    d = &setting_defs[id];
    vlen = strlen(value);
    if (vlen >= SETTING_VALUE_MAX) {
        snprintf(err, errlen, "%s: the value is too long (%zu bytes, at most %d); accepted: %s",
                 d->label, vlen, SETTING_VALUE_MAX - 1, d->accepted);
        return -1;
    }
    /* trim the ends, then refuse any character the kind does not allow */
    while (*value == ' ')
        value++;
    vlen = strlen(value);
    while (vlen > 0 && value[vlen - 1] == ' ')
        vlen--;
    allowed = allowed_chars(d->kind);
    for (size_t i = 0; i < vlen; i++) {
        unsigned char c = (unsigned char)value[i];
        if ((c == ' ' && is_list(d->kind)) || (c != '\0' && strchr(allowed, c)))
            continue;
        char what[48];
        describe_char(c, what, sizeof(what));
        snprintf(err, errlen, "%s: %s is not allowed; accepted: %s", d->label, what, d->accepted);
        return -1;
    }
    /* single spaces between list entries */
    for (size_t i = 0; i < vlen; i++) {
        if (value[i] == ' ' && (n == 0 || norm[n - 1] == ' '))
            continue;
        norm[n++] = value[i];
    }
    norm[n] = '\0';
    if (n == 0) {
        if (!d->may_be_empty) {
            snprintf(err, errlen, "%s: a value is needed; accepted: %s", d->label, d->accepted);
            return -1;
        }
        s->v[id][0] = '\0';
        return 0;
    }
    p = norm;
    while (*p) {
        const char *sp = is_list(d->kind) ? strchr(p, ' ') : NULL;
        size_t el = sp ? (size_t)(sp - p) : strlen(p);
        const char *why;

        memcpy(entry, p, el);
        entry[el] = '\0';
        count++;
        if (is_list(d->kind) && count > (size_t)d->max) {
            snprintf(err, errlen, "%s: more than %ld entries; accepted: %s", d->label, d->max,
                     d->accepted);
            return -1;
        }
        if (d->kind == SK_NET_LIST_ANY && strcmp(entry, "any") == 0 && strcmp(norm, "any") != 0) {
            snprintf(err, errlen, "%s: \"any\" stands alone, not in a list; accepted: %s", d->label,
                     d->accepted);
            return -1;
        }
        why = check_one(d, entry);
        if (why != NULL) {
            quote_value(entry, q, sizeof(q));
            snprintf(err, errlen, "%s: %s %s (%s)", d->label, q, why, d->accepted);
            return -1;
        }
        p += el;
        if (*p == ' ')
            p++;
    }
    memcpy(s->v[id], norm, n + 1);
    return 0;
}

/* ---- rules between fields ---- */

static int fail(enum setting_id *bad, enum setting_id id, char *err, size_t errlen, const char *why)
{
    if (bad)
        *bad = id;
    snprintf(err, errlen, "%s: %s", setting_defs[id].label, why);
    return -1;
}

static int check_network(const struct settings *s, enum setting_id *bad, char *err, size_t errlen)
{
    char addr[64];
    struct in_addr a, g;
    const char *slash;
    int prefix;
    uint32_t mask, ha, hg;

    if (strcmp(s->v[S_NET_MODE], "static") != 0)
        return 0;
    if (s->v[S_NET_ADDRESS][0] == '\0')
        return fail(bad, S_NET_ADDRESS, err, errlen,
                    "static addressing needs an address, like 192.0.2.10/24");
    if (s->v[S_NET_GATEWAY][0] == '\0')
        return fail(bad, S_NET_GATEWAY, err, errlen,
                    "static addressing needs a gateway, like 192.0.2.1");
    slash = strchr(s->v[S_NET_ADDRESS], '/');
    if (slash == NULL || (size_t)(slash - s->v[S_NET_ADDRESS]) >= sizeof(addr))
        return fail(bad, S_NET_ADDRESS, err, errlen, "needs a prefix length, like /24");
    memcpy(addr, s->v[S_NET_ADDRESS], (size_t)(slash - s->v[S_NET_ADDRESS]));
    addr[slash - s->v[S_NET_ADDRESS]] = '\0';
    prefix = atoi(slash + 1);
    if (inet_pton(AF_INET, addr, &a) != 1 || inet_pton(AF_INET, s->v[S_NET_GATEWAY], &g) != 1)
        return fail(bad, S_NET_ADDRESS, err, errlen, "is not an IPv4 address");
    if (prefix < 1 || prefix > 31)
        return fail(bad, S_NET_ADDRESS, err, errlen,
                    "the prefix length must be 1-31 for a network with a gateway");
    mask = prefix == 0 ? 0 : 0xffffffffu << (32 - prefix);
    ha = ntohl(a.s_addr);
    hg = ntohl(g.s_addr);
    if (prefix <= 30 && ((ha & ~mask) == 0 || (ha & ~mask) == ~mask))
        return fail(bad, S_NET_ADDRESS, err, errlen,
                    "is the network's own or broadcast address; pick a host address");
    if ((ha & mask) != (hg & mask)) {
        char why[200];
        snprintf(why, sizeof(why), "%.40s is not in the network of the address %.48s",
                 s->v[S_NET_GATEWAY], s->v[S_NET_ADDRESS]);
        return fail(bad, S_NET_GATEWAY, err, errlen, why);
    }
    if (ha == hg)
        return fail(bad, S_NET_GATEWAY, err, errlen, "is the appliance's own address");
    return 0;
}

/* The hub's host part of cluster.hub (no brackets, no port). */
static void hub_host(const char *hub, char *out, size_t outlen)
{
    const char *end = hub[0] == '[' ? strchr(hub, ']') : strchr(hub, ':');
    size_t n = end ? (size_t)(end - hub) : strlen(hub);

    if (hub[0] == '[' && n > 0) {
        hub++;
        n--;
    }
    snprintf(out, outlen, "%.*s", (int)(n < outlen ? n : outlen - 1), hub);
}

/* A node needs a hub, and the hub is another appliance: a loopback address
 * would be this appliance's own Redis, which only a hub runs. */
static int check_cluster(const struct settings *s, enum setting_id *bad, char *err, size_t errlen)
{
    char host[256];
    struct in_addr a;

    if (strcmp(s->v[S_CLUSTER_ROLE], "node") != 0)
        return 0;
    if (s->v[S_CLUSTER_HUB][0] == '\0')
        return fail(bad, S_CLUSTER_HUB, err, errlen,
                    "a node needs the hub's address, like 192.0.2.20:6379");
    hub_host(s->v[S_CLUSTER_HUB], host, sizeof(host));
    if (strcasecmp(host, "localhost") == 0 || strcmp(host, "::1") == 0 ||
        strcasecmp(host, s->v[S_HOSTNAME]) == 0 ||
        (inet_pton(AF_INET, host, &a) == 1 && (ntohl(a.s_addr) >> 24) == 127))
        return fail(bad, S_CLUSTER_HUB, err, errlen,
                    "names this appliance itself; give the hub appliance's address (or make "
                    "this appliance the hub)");
    return 0;
}

int settings_check(const struct settings *s, enum setting_id *bad, char *err, size_t errlen)
{
    if (check_network(s, bad, err, errlen) != 0)
        return -1;
    return check_cluster(s, bad, err, errlen);
}

int settings_check_ssh_keys(const struct settings *s, int keys, char *err, size_t errlen)
{
    if (strcmp(s->v[S_SSH_KEY_ONLY], "yes") != 0 || keys > 0)
        return 0;
    snprintf(err, errlen,
             "%s (%s) is yes and no SSH key for admin would be left: nobody could log in over "
             "SSH. Add a key before turning it on; turn it off before removing the last key",
             setting_defs[S_SSH_KEY_ONLY].label, setting_defs[S_SSH_KEY_ONLY].key);
    return -1;
}

/* ---- the file ---- */

struct parse_ctx {
    struct settings s;
    bool seen[S__COUNT];
};

static int settings_line(void *ctx, const char *key, const char *val, char *err, size_t errlen)
{
    struct parse_ctx *c = ctx;
    int id = setting_find(key);

    if (id < 0) {
        snprintf(err, errlen, "unknown setting %.64s", key);
        return -1;
    }
    if (c->seen[id]) {
        snprintf(err, errlen, "%s is set twice", key);
        return -1;
    }
    c->seen[id] = true;
    return settings_set(&c->s, (enum setting_id)id, val, err, errlen);
}

int settings_parse(struct settings *s, const char *data, size_t len, char *err, size_t errlen)
{
    struct parse_ctx c;

    memset(&c, 0, sizeof(c));
    settings_defaults(&c.s);
    if (file_kv_parse(data, len, SETTING_VALUE_MAX + 128, settings_line, &c, err, errlen) != 0)
        return -1;
    *s = c.s;
    return 0;
}

static int settings_parse_fn(void *ctx, const char *data, size_t len, char *err, size_t errlen)
{
    return settings_parse(ctx, data, len, err, errlen);
}

int settings_load(struct settings *s, const char *path, char *err, size_t errlen)
{
    int rc = file_load(path, SETTINGS_FILE_MAX, settings_parse_fn, s, err, errlen);

    if (rc == 1)
        settings_defaults(s);
    return rc < 0 ? -1 : 0;
}

int settings_encode(const struct settings *s, char **out, size_t *outlen)
{
    size_t cap = 256, len;
    char *buf;

    for (int i = 0; i < S__COUNT; i++)
        cap += strlen(setting_defs[i].key) + strlen(s->v[i]) + 4;
    buf = malloc(cap);
    if (buf == NULL)
        abort();
    len = (size_t)snprintf(buf, cap,
                           "# Pullbox settings: written by pullbox-apply. Change them with the "
                           "setup wizard or the console.\n");
    for (int i = 0; i < S__COUNT; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s = %s\n", setting_defs[i].key, s->v[i]);
    *out = buf;
    *outlen = len;
    return 0;
}

int settings_save_owned(const struct settings *s, const char *path, unsigned mode, long gid,
                        char *err, size_t errlen)
{
    char *buf;
    size_t len;
    int rc;

    settings_encode(s, &buf, &len);
    rc = file_write_atomic_owned(path, buf, len, mode, -1, gid, err, errlen);
    free(buf);
    return rc;
}

int settings_save(const struct settings *s, const char *path, unsigned mode, char *err,
                  size_t errlen)
{
    return settings_save_owned(s, path, mode, -1, err, errlen);
}

size_t settings_split(const char *value, char *buf, size_t buflen, const char **out, size_t max)
{
    size_t n = 0;
    char *p, *save = NULL;

    if (buflen == 0)
        return 0;
    snprintf(buf, buflen, "%s", value);
    for (p = strtok_r(buf, " \t", &save); p && n < max; p = strtok_r(NULL, " \t", &save))
        out[n++] = p;
    return n;
}
