/* The settings root: every file the config-ui tools read or write is found
 * under one folder, "/" on the appliance and $PULLBOX_ROOT elsewhere (tests,
 * a developer's machine). Nothing in config-ui opens an absolute path
 * without going through root_path(). */
#ifndef PULLBOX_CFG_ROOT_H
#define PULLBOX_CFG_ROOT_H

#include <stdbool.h>
#include <stddef.h>

/* Files under the root (relative paths, no leading '/'). */
#define PATH_SETTINGS "data/etc/settings.conf"     /* the admin's settings (settings.h) */
#define PATH_SECRETS "data/etc/secrets.conf"       /* keys and the admin hash (secrets.h) */
#define PATH_SETUP_CODE "data/etc/setup-code"      /* one-time claim code; gone once claimed */
#define PATH_CLAIMED "data/etc/claimed"            /* exists once the wizard's claim is done */
#define PATH_SHADOW "data/etc/shadow"              /* login and dropbear (admin's hash) */
#define PATH_AUTHORIZED_KEYS "data/home/admin/.ssh/authorized_keys"
#define PATH_PULLBOX_CONF "data/pullbox/pullbox.conf" /* rendered for pullboxd */
#define PATH_TLS_CERT "data/pullbox/tls/cert.pem"
#define PATH_TLS_KEY "data/pullbox/tls/key.pem"
#define PATH_TLS_CHAIN "data/pullbox/tls/chain.pem"
#define PATH_FIREWALL_CONF "data/etc/firewall.conf" /* rendered for pullbox-firewall */
#define PATH_NETWORK_CONF "data/etc/network.conf"   /* rendered for the network service */
#define PATH_NTP_CONF "data/etc/ntp.conf"           /* rendered for the ntpd service */
#define PATH_HOSTNAME "data/etc/hostname"           /* rendered; applied at boot and by apply */
#define PATH_SPOOL "data/config-ui/spool"          /* requests to the apply service (spool.h) */
#define PATH_STATE "data/config-ui/state"          /* wizard sessions and rate limits */
#define PATH_SERVICES "var/service"                /* runit's scan dir: sv <root>/var/service/<name> */
#define PATH_LOGS "var/log"                        /* svlogd dirs: var/log/<service>/current */
#define PATH_SBIN "usr/sbin"                       /* pullbox-firewall, pullboxd */

/* The root without a trailing slash ("" for "/"). */
const char *root_dir(void);

/* True when the root is the real system "/": only then may a tool act on
 * the running kernel (set the host name, reboot). Tests use another root
 * and run in their own network namespace. */
bool root_is_system(void);

/* out = <root>/<rel>. Returns 0, or -1 when it does not fit. */
int root_path(char *out, size_t outlen, const char *rel);

#endif
