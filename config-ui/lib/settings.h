/* The admin's settings: one file of "key = value" lines (PATH_SETTINGS),
 * one table of keys, and one validator. The wizard and the console both
 * change settings only through settings_set(), so a value is accepted or
 * refused with the same message whichever tool the admin uses; the apply
 * service validates again (settings_load() + settings_check()) before it
 * renders anything, because it trusts no unprivileged writer. */
#ifndef PULLBOX_CFG_SETTINGS_H
#define PULLBOX_CFG_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>

#define SETTING_VALUE_MAX 1024 /* bytes including the NUL: longer is refused */
#define SETTING_LIST_MAX 16    /* entries in a list value (networks, servers) */
#define SETTING_ERR_MAX 256

enum setting_id {
    S_HOSTNAME,              /* "pullbox": RFC 1123 host name, labels <= 63, <= 253 total */
    S_NET_MODE,              /* "dhcp" | "static" */
    S_NET_ADDRESS,           /* static: IPv4 address with prefix, "192.0.2.10/24" */
    S_NET_GATEWAY,           /* static: IPv4 address in the address's network */
    S_NET_DNS,               /* static: up to 3 IPv4/IPv6 addresses, space-separated */
    S_NET_NTP,               /* up to 4 host names or addresses; "" = no time sync */
    S_SITE_PUBLIC_NAME,      /* host name or address clients use to reach 8893/8894 */
    S_SITE_PUBLISHERS,       /* Bitrix web servers allowed on 8895: addresses or networks */
    S_SITE_VERSION,          /* queue server version the site runs: "2".."5" */
    S_SITE_SIGNATURE_ALGO,   /* "sha1" | "sha256" */
    S_FW_SUBSCRIBE_NETWORKS, /* who may reach 8893/8894: "any" or networks */
    S_FW_ADMIN_NETWORKS,     /* who may reach 22/80/443: "any" or networks */
    S_KEY_GRACE_PERIOD,      /* seconds the previous signing key stays valid: 0..604800 */
    S_CLUSTER_ROLE,          /* "standalone" | "hub" (runs Redis) | "node" (uses cluster.hub) */
    S_CLUSTER_HUB,           /* node: the hub's Redis, host[:port] or [v6][:port], port 6379 */
    S_CLUSTER_PEERS,         /* hub: the other appliances allowed on 6379: addresses or networks */
    S_FW_SUBSCRIBE_CONNS,    /* connections at once per source on 8893/8894; 0 = no limit */
    S_FW_SUBSCRIBE_RATE,     /* new connections a second per source on 8893/8894; 0 = no limit */
    S_FW_SSH_RATE,           /* new connections a minute per source on 22 */
    S_FW_WIZARD_RATE,        /* new connections a minute per source on 80/443 */
    S_SSH_KEY_ONLY,          /* "no" | "yes": dropbear refuses password logins (-s) */
    S__COUNT
};

enum setting_kind {
    SK_HOSTNAME,     /* host name */
    SK_HOST,         /* host name or IPv4/IPv6 address */
    SK_CHOICE,       /* one of def->choices */
    SK_IPV4_CIDR,    /* a.b.c.d/n */
    SK_IPV4,         /* a.b.c.d */
    SK_ADDR_LIST,    /* IPv4/IPv6 addresses */
    SK_NET_LIST,     /* IPv4/IPv6 addresses or networks (CIDR) */
    SK_NET_LIST_ANY, /* "any" or SK_NET_LIST */
    SK_HOST_LIST,    /* host names or addresses */
    SK_INT,          /* decimal integer in [min, max] */
    SK_HOST_PORT,    /* host name, IPv4, or [IPv6], with an optional :port 1-65535 */
};

struct setting_def {
    const char *key;      /* "network.mode": the name in the file and in forms */
    const char *label;    /* "Address mode": for humans (wizard labels, console prompts) */
    const char *accepted; /* "dhcp or static": says what is accepted, used in errors */
    const char *def;      /* the factory value */
    enum setting_kind kind;
    const char *const *choices; /* SK_CHOICE: NULL-terminated */
    long min, max;              /* SK_INT bounds; list kinds: max entries */
    bool may_be_empty;
};

extern const struct setting_def setting_defs[S__COUNT];

struct settings {
    char v[S__COUNT][SETTING_VALUE_MAX];
};

/* The factory settings. */
void settings_defaults(struct settings *s);

/* Reads path; a missing file gives the defaults, a key missing from the file
 * its default. Unknown keys, bad lines and invalid values are errors (err
 * names the line and the key). Returns 0 or -1. */
int settings_load(struct settings *s, const char *path, char *err, size_t errlen);

/* Writes every key atomically (temporary file, fsync, rename, fsync of the
 * folder) with the given mode. Returns 0 or -1 with err. */
int settings_save(const struct settings *s, const char *path, unsigned mode, char *err,
                  size_t errlen);

/* The same from memory (a restore checks a bundle's file before it is
 * written). */
int settings_parse(struct settings *s, const char *data, size_t len, char *err, size_t errlen);
/* The file's text (*out malloc'ed). 0. */
int settings_encode(const struct settings *s, char **out, size_t *outlen);
/* settings_save with group gid (-1: keep the old file's). */
int settings_save_owned(const struct settings *s, const char *path, unsigned mode, long gid,
                        char *err, size_t errlen);

/* Validates value for one key and stores it normalized (trimmed, single
 * spaces between list entries). On error s is unchanged and err says which
 * field, what was wrong and what is accepted, e.g. "Gateway: 10.0.0.300 is
 * not an IPv4 address (four numbers 0-255, like 192.0.2.1)". */
int settings_set(struct settings *s, enum setting_id id, const char *value, char *err,
                 size_t errlen);

/* True if every value is the same. */
bool settings_equal(const struct settings *a, const struct settings *b);

/* Finds a key by name; -1 if unknown. */
int setting_find(const char *key);

/* Checks the rules between fields (static mode needs address and gateway,
 * the gateway in the address's network, ...). Returns 0, or -1 with *bad set
 * to the field to blame and err saying why. */
int settings_check(const struct settings *s, enum setting_id *bad, char *err, size_t errlen);

/* ssh.key-only needs a key to log in with: with it yes and keys (the
 * admin's SSH keys there would be) 0, returns -1 and err names the setting
 * and says what to do first. The apply service asks it before turning the
 * setting on and before removing a key, the console before it sends either. */
int settings_check_ssh_keys(const struct settings *s, int keys, char *err, size_t errlen);

/* Splits a list value into at most max entries (pointers into buf, which
 * receives a copy of value). Returns the count. */
size_t settings_split(const char *value, char *buf, size_t buflen, const char **out, size_t max);

#endif
