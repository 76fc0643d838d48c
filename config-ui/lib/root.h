/* The settings root: every file the config-ui tools read or write is found
 * under one folder, "/" on the appliance and $PULLBOX_ROOT elsewhere (tests,
 * a developer's machine). Nothing in config-ui opens an absolute path
 * without going through root_path(). */
#ifndef PULLBOX_CFG_ROOT_H
#define PULLBOX_CFG_ROOT_H

#include <stdbool.h>
#include <stddef.h>

/* Files under the root (relative paths, no leading '/'). */
#define PATH_SETTINGS "data/etc/settings.conf" /* the admin's settings (settings.h) */
#define PATH_SECRETS "data/etc/secrets.conf"   /* keys and the admin hash (secrets.h) */
#define PATH_SETUP_CODE "data/etc/setup-code"  /* one-time claim code; gone once claimed */
#define PATH_CLAIMED "data/etc/claimed"        /* exists once the wizard's claim is done */
#define PATH_SHADOW "data/etc/shadow"          /* login and dropbear (admin's hash) */
#define PATH_ADMIN_HOME "data/home/admin"  /* the admin's, not root's: see fileio.h */
#define PATH_AUTHORIZED_KEYS "data/home/admin/.ssh/authorized_keys"
#define PATH_PULLBOX_CONF "data/pullbox/pullbox.conf" /* rendered for pullboxd */
#define PATH_TLS_CERT "data/pullbox/tls/cert.pem"
#define PATH_TLS_KEY "data/pullbox/tls/key.pem"
#define PATH_TLS_CHAIN "data/pullbox/tls/chain.pem"
/* cert.pem again, root's 0644 outside the TLS folder: the wizard and the
 * console show it but may not enter the folder that holds the key */
#define PATH_TLS_PUBLIC "data/pullbox/tls-public.pem"
#define PATH_FIREWALL_CONF "data/etc/firewall.conf" /* rendered for pullbox-firewall */
#define PATH_NETWORK_CONF "data/etc/network.conf"   /* rendered for the network service */
#define PATH_NTP_CONF "data/etc/ntp.conf"           /* rendered for the ntpd service */
#define PATH_HOSTNAME "data/etc/hostname"           /* rendered; applied at boot and by apply */
#define PATH_DROPBEAR_CONF "data/etc/dropbear.conf" /* rendered: SSH password logins on or off */
#define PATH_REDIS_CONF "data/etc/redis.conf"       /* rendered on a hub only (the redis service) */
#define PATH_REDIS_DATA "data/redis"                /* the hub's Redis: append-only file */
#define PATH_SPOOL "data/config-ui/spool"           /* requests to the apply service (spool.h) */
#define PATH_STATE "run/pullbox-wizard" /* wizard sessions, limits: a capped tmpfs, not /data */
#define PATH_SERVICES "var/service" /* runit's scan dir: sv <root>/var/service/<name> */
#define PATH_LOGS "var/log"         /* svlogd dirs: var/log/<service>/current */
#define PATH_SBIN "usr/sbin"        /* pullbox-firewall, pullboxd */
#define PATH_TLS_DIR "data/pullbox/tls"
#define PATH_SSH_HOST_KEYS "data/ssh"                     /* dropbear_{ed25519,ecdsa}_host_key */
#define PATH_NETWORK_ROLLBACK "data/etc/network-rollback" /* a network change on trial */
#define PATH_APPLY_CURRENT "data/etc/.apply-current"      /* the request being applied */
#define PATH_FACTORY_RESET "data/etc/factory-reset"       /* stage 1 wipes /data when present */
#define PATH_GRAPHS "data/graphs/pullboxd.ring" /* pullbox-sampler's figures (graphring.h) */

/* The root without a trailing slash ("" for "/"). */
const char *root_dir(void);

/* Forgets the root read from the environment, so the next call reads
 * PULLBOX_ROOT again (a tool or test that changes it). */
void root_reset(void);

/* True when the root is the real system "/": only then may a tool act on
 * the running kernel (set the host name, reboot). Tests use another root
 * and run in their own network namespace. */
bool root_is_system(void);

/* out = <root>/<rel>. Returns 0, or -1 when it does not fit or the root
 * is invalid (PULLBOX_ROOT relative: refused, see root_check). */
int root_path(char *out, size_t outlen, const char *rel);

/* 0, or -1 with err when PULLBOX_ROOT is set but not an absolute path (then
 * root_dir() names a path that cannot exist, so nothing is touched). */
int root_check(char *err, size_t errlen);

/* True when a tool may change the network, firewall or time of the kernel
 * it runs on: the system root, or another root inside a network namespace
 * of its own (tests run under unshare -n); never the host of a test. */
bool root_may_touch_network(void);

#define ROOT_RUN_OUTPUT_MAX (256 * 1024)
/* Runs argv[0] (an absolute path) with argv and envp (NULL: a fixed PATH
 * only), no shell; input (may be NULL) is written to its stdin; stdout and
 * stderr are captured into *out (malloc'ed, NUL-terminated, at most
 * ROOT_RUN_OUTPUT_MAX; out may be NULL). The program is killed after
 * timeout seconds. Returns its exit status (0 = success), or -1 when it
 * could not run, timed out or died of a signal; err says which. */
int root_run(const char *const argv[], const char *const envp[], const char *input, double timeout,
             char **out, size_t *outlen, char *err, size_t errlen);

/* The same with the open file in_fd as the program's stdin (a file root
 * opened itself, so the program never walks a path another user owns). */
int root_run_fd(const char *const argv[], const char *const envp[], int in_fd, double timeout,
                char **out, size_t *outlen, char *err, size_t errlen);

#endif
