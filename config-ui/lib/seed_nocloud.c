/* cloud-init NoCloud seed (seed.h): meta-data, user-data, network-config. */
#include "seed.h"
#include "yaml.h"

#include <stdio.h>
#include <string.h>

static struct yaml *parse(struct seed *s, const char *file, const char *text, size_t len)
{
    char err[128];
    bool failed;
    struct yaml *y;

    if (len > SEED_FILE_MAX) {
        seed_note(s, "%s is larger than %d bytes: not read", file, SEED_FILE_MAX);
        return NULL;
    }
    y = yaml_parse(text, len, err, sizeof(err), &failed);
    if (failed)
        seed_note(s, "%s: %s: not read", file, err);
    else if (y && y->kind != YAML_MAP) {
        seed_note(s, "%s is not a mapping of keys: not read", file);
        yaml_free(y);
        y = NULL;
    }
    return y;
}

/* A scalar the caller wants: a note when it is there but not usable. */
static const char *want_scalar(struct seed *s, const char *file, const struct yaml *map,
                               const char *key)
{
    const struct yaml *v = yaml_get(map, key);

    if (v == NULL)
        return NULL;
    if (v->kind == YAML_SCALAR)
        return v->text;
    seed_note(s, "%s %s (line %d): %s: skipped", file, key, v->line,
              v->kind == YAML_BAD ? v->text : "not a single value");
    return NULL;
}

static void meta_data(struct seed *s, const char *text, size_t len)
{
    struct yaml *y = parse(s, "meta-data", text, len);
    const char *h = want_scalar(s, "meta-data", y, "local-hostname");

    if (h && *h)
        seed_add(s, SEED_SETTING, S_HOSTNAME, "meta-data local-hostname", h, strlen(h));
    yaml_free(y);
}

static void user_data(struct seed *s, const char *text, size_t len)
{
    static const char *const known[] = {"hostname", "fqdn", "ssh_authorized_keys", "password"};
    char ignored[SEED_NOTE_MAX] = "";
    struct yaml *y;
    const struct yaml *keys;
    const char *h, *pw;

    if (len < 13 || strncmp(text, "#cloud-config", 13) != 0 ||
        (len > 13 && text[13] != '\n' && text[13] != '\r' && text[13] != ' ')) {
        seed_note(s, "user-data does not start with #cloud-config (scripts are never run): "
                     "not read");
        return;
    }
    y = parse(s, "user-data", text, len);
    if (y == NULL)
        return;
    h = want_scalar(s, "user-data", y, "hostname");
    if (h == NULL || *h == '\0')
        h = want_scalar(s, "user-data", y, "fqdn");
    if (h && *h) {
        /* user-data's name wins over meta-data's, as in cloud-init */
        for (size_t i = 0; i < s->nitems; i++)
            if (s->items[i].what == SEED_SETTING && s->items[i].setting == S_HOSTNAME)
                s->items[i] = s->items[--s->nitems];
        seed_add(s, SEED_SETTING, S_HOSTNAME, "user-data hostname", h, strlen(h));
    }
    keys = yaml_get(y, "ssh_authorized_keys");
    if (keys && keys->kind == YAML_SEQ) {
        for (const struct yaml *k = keys->child; k; k = k->next) {
            char name[SEED_NAME_MAX];
            snprintf(name, sizeof(name), "user-data ssh_authorized_keys (line %d)", k->line);
            if (k->kind == YAML_SCALAR)
                seed_add(s, SEED_SSH_KEY, -1, name, k->text, strlen(k->text));
            else
                seed_note(s, "%s: %s: skipped", name,
                          k->kind == YAML_BAD ? k->text : "not a single value");
        }
    } else if (keys) {
        seed_note(s, "user-data ssh_authorized_keys (line %d): not a list: skipped", keys->line);
    }
    /* a crypt(3) hash only: a clear-text password never reaches the disk */
    pw = want_scalar(s, "user-data", y, "password");
    if (pw && pw[0] == '$')
        seed_add(s, SEED_ADMIN_HASH, -1, "user-data password", pw, strlen(pw));
    else if (pw && *pw)
        seed_note(s, "user-data password: only a crypt(3) hash ($6$..., $y$...) is taken, "
                     "not a clear-text password: skipped");
    for (const struct yaml *e = y->child; e; e = e->next) {
        bool is_known = false;
        for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
            is_known |= strcmp(e->key, known[i]) == 0;
        if (!is_known && strlen(ignored) + strlen(e->key) + 3 < sizeof(ignored) - 40)
            snprintf(ignored + strlen(ignored), sizeof(ignored) - strlen(ignored), "%s%s",
                     ignored[0] ? ", " : "", e->key);
    }
    if (ignored[0])
        seed_note(s, "user-data: not used by Pullbox: %s", ignored);
    yaml_free(y);
}

/* The default route of a version 2 interface: gateway4, or a route to
 * default or 0.0.0.0/0. */
static const char *gateway(struct seed *s, const struct yaml *eth)
{
    const char *gw = want_scalar(s, "network-config", eth, "gateway4");
    const struct yaml *routes = yaml_get(eth, "routes");

    if (gw)
        return gw;
    if (routes && routes->kind == YAML_SEQ)
        for (const struct yaml *r = routes->child; r; r = r->next) {
            const char *to = yaml_scalar(r, "to"), *via = yaml_scalar(r, "via");
            if (to && via && (strcmp(to, "default") == 0 || strcmp(to, "0.0.0.0/0") == 0))
                return via;
        }
    return NULL;
}

static void add_net(struct seed *s, int id, const char *what, const char *value)
{
    char name[SEED_NAME_MAX];

    snprintf(name, sizeof(name), "network-config %s", what);
    seed_add(s, SEED_SETTING, id, name, value, strlen(value));
}

/* "255.255.255.0" -> 24; -1 if it is not a netmask. */
static int prefix_of(const char *mask)
{
    unsigned a, b, c, d, bits = 0;
    char tail;

    if (sscanf(mask, "%3u.%3u.%3u.%3u%c", &a, &b, &c, &d, &tail) != 4 || a > 255 || b > 255 ||
        c > 255 || d > 255)
        return -1;
    unsigned long m = (unsigned long)a << 24 | b << 16 | c << 8 | d;
    while (bits < 32 && (m & (1ul << (31 - bits))))
        bits++;
    return (m & 0xfffffffful >> bits) == 0 || bits == 32 ? (int)bits : -1;
}

static void add_dns(char *dns, size_t size, const struct yaml *list)
{
    if (list && list->kind == YAML_SCALAR && strlen(dns) + strlen(list->text) + 2 < size)
        snprintf(dns + strlen(dns), size - strlen(dns), "%s%s", dns[0] ? " " : "", list->text);
    else if (list && list->kind == YAML_SEQ)
        for (const struct yaml *a = list->child; a; a = a->next)
            add_dns(dns, size, a);
}

/* Version 1 (what Proxmox VE writes): the first physical interface's first
 * IPv4 subnet, static (address with a netmask or a prefix) or dhcp; the
 * name servers of a "nameserver" entry or of the subnet. */
static void network_v1(struct seed *s, const struct yaml *net)
{
    const struct yaml *config = yaml_get(net, "config"), *phys = NULL, *sub = NULL;
    char dns[SETTING_VALUE_MAX] = "", addr[64];
    const char *type, *a, *mask, *gw;

    if (config == NULL || config->kind != YAML_SEQ) {
        seed_note(s, "network-config: version 1 without a config list: network settings skipped");
        return;
    }
    for (const struct yaml *e = config->child; e; e = e->next) {
        type = yaml_scalar(e, "type");
        if (type && strcmp(type, "physical") == 0 && phys == NULL)
            phys = e;
        else if (type && strcmp(type, "nameserver") == 0)
            add_dns(dns, sizeof(dns), yaml_get(e, "address"));
    }
    if (phys && yaml_get(phys, "subnets") && yaml_get(phys, "subnets")->kind == YAML_SEQ)
        for (const struct yaml *e = yaml_get(phys, "subnets")->child; e && !sub; e = e->next) {
            type = yaml_scalar(e, "type");
            a = yaml_scalar(e, "address");
            if (type && (strcmp(type, "dhcp") == 0 || strcmp(type, "dhcp4") == 0))
                sub = e;
            else if (type && (strcmp(type, "static") == 0 || strcmp(type, "static4") == 0) && a &&
                     strchr(a, '.'))
                sub = e;
        }
    if (sub == NULL) {
        seed_note(s, "network-config: no physical interface with an IPv4 subnet: network settings "
                     "skipped");
        return;
    }
    type = yaml_scalar(sub, "type");
    if (strncmp(type, "dhcp", 4) == 0) {
        add_net(s, S_NET_MODE, "subnets", "dhcp");
        return;
    }
    a = yaml_scalar(sub, "address");
    mask = yaml_scalar(sub, "netmask");
    if (strchr(a, '/') == NULL) {
        int bits = mask ? prefix_of(mask) : -1;
        if (bits < 0) {
            seed_note(s,
                      "network-config subnets: %s without a usable netmask: network settings "
                      "skipped",
                      a);
            return;
        }
        snprintf(addr, sizeof(addr), "%.40s/%d", a, bits);
        a = addr;
    }
    add_net(s, S_NET_MODE, "subnets", "static");
    add_net(s, S_NET_ADDRESS, "subnets address", a);
    if ((gw = yaml_scalar(sub, "gateway")) != NULL)
        add_net(s, S_NET_GATEWAY, "subnets gateway", gw);
    add_dns(dns, sizeof(dns), yaml_get(sub, "dns_nameservers"));
    if (dns[0])
        add_net(s, S_NET_DNS, "nameservers", dns);
}

static void network_config(struct seed *s, const char *text, size_t len)
{
    struct yaml *y = parse(s, "network-config", text, len);
    const struct yaml *net = y, *eths, *eth, *addrs, *ns;
    const char *version, *gw;
    char dns[SETTING_VALUE_MAX] = "";
    const char *addr = NULL;

    if (y == NULL)
        return;
    if (yaml_get(y, "network") && yaml_get(y, "network")->kind == YAML_MAP)
        net = yaml_get(y, "network"); /* the file may hold the "network:" key itself */
    version = yaml_scalar(net, "version");
    if (version && strcmp(version, "1") == 0) {
        network_v1(s, net);
        goto out;
    }
    if (version == NULL || strcmp(version, "2") != 0) {
        seed_note(s,
                  "network-config: version %s is not read (versions 1 and 2 are): network "
                  "settings skipped",
                  version ? version : "(none)");
        goto out;
    }
    eths = yaml_get(net, "ethernets");
    if (eths == NULL || eths->kind != YAML_MAP || eths->child == NULL) {
        seed_note(s, "network-config: no ethernets: network settings skipped");
        goto out;
    }
    eth = eths->child;
    if (eth->next)
        seed_note(s,
                  "network-config: only the first interface (%s) is used: the appliance has "
                  "one",
                  eth->key);
    if (eth->kind != YAML_MAP) {
        seed_note(s, "network-config ethernets %s: not a mapping: network settings skipped",
                  eth->key);
        goto out;
    }
    addrs = yaml_get(eth, "addresses");
    if (addrs && addrs->kind == YAML_SEQ)
        for (const struct yaml *a = addrs->child; a && !addr; a = a->next)
            if (a->kind == YAML_SCALAR && strchr(a->text, '.'))
                addr = a->text; /* the first IPv4 address: the appliance's one */
    if (addr == NULL && yaml_true(yaml_scalar(eth, "dhcp4"))) {
        add_net(s, S_NET_MODE, "dhcp4", "dhcp");
        goto out;
    }
    if (addr == NULL) {
        seed_note(s,
                  "network-config %s: neither dhcp4 nor an IPv4 address: network settings "
                  "skipped",
                  eth->key);
        goto out;
    }
    add_net(s, S_NET_MODE, "addresses", "static");
    add_net(s, S_NET_ADDRESS, "addresses", addr);
    if ((gw = gateway(s, eth)) != NULL)
        add_net(s, S_NET_GATEWAY, "gateway4", gw);
    ns = yaml_get(yaml_get(eth, "nameservers"), "addresses");
    if (ns && ns->kind == YAML_SEQ)
        add_dns(dns, sizeof(dns), ns);
    if (dns[0])
        add_net(s, S_NET_DNS, "nameservers", dns);
out:
    yaml_free(y);
}

int seed_parse_nocloud(struct seed *s, const char *meta, size_t metalen, const char *user,
                       size_t userlen, const char *net, size_t netlen)
{
    if (meta)
        meta_data(s, meta, metalen);
    if (user)
        user_data(s, user, userlen);
    if (net)
        network_config(s, net, netlen);
    return s->nitems > 0 ? 0 : -1;
}
