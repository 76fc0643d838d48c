/* Renders the files the appliance's services read, from the settings and
 * secrets, and nothing else: pullbox.conf (pullboxd), firewall.conf
 * (pullbox-firewall), network.conf (the network service), ntp.conf (ntpd),
 * hostname, redis.conf (the redis service, on a cluster hub only). Each
 * renderer writes to a memory buffer; render_all() writes a
 * file only when its content changed and says which ones did, so the apply
 * service reloads or restarts only what changed. */
#ifndef PULLBOX_CFG_RENDER_H
#define PULLBOX_CFG_RENDER_H

#include <stdbool.h>
#include <stddef.h>

struct settings;
struct secrets;

enum render_file {
    RF_PULLBOX,  /* PATH_PULLBOX_CONF -> sv hup pullboxd */
    RF_FIREWALL, /* PATH_FIREWALL_CONF -> pullbox-firewall apply */
    RF_NETWORK,  /* PATH_NETWORK_CONF -> sv restart network (with rollback) */
    RF_NTP,      /* PATH_NTP_CONF -> sv restart ntpd */
    RF_HOSTNAME, /* PATH_HOSTNAME -> hostname(1) on the system root */
    RF_REDIS,    /* PATH_REDIS_CONF -> sv restart redis; absent unless cluster.role is hub */
    RF_DROPBEAR, /* PATH_DROPBEAR_CONF -> sv restart dropbear (open sessions stay) */
    RF__COUNT
};

struct render_buf {
    char *data; /* malloc'ed, NUL-terminated */
    size_t len;
    bool absent; /* the file must not exist (render_all removes it) */
};

/* The Redis a hub runs: its port and the memory it may use. pullboxd
 * answers 503 when Redis refuses a write (noeviction), and evicting its
 * message counter would break the message ids, so a bound that is reached
 * stops publishing instead of losing data. */
#define RENDER_REDIS_PORT 6379
#define RENDER_REDIS_MAXMEMORY "256mb"

/* Renders one file into b (free with render_buf_free). Returns 0 or -1. The
 * pullbox.conf names the TLS files and the journal under the settings root as
 * the appliance sees them ("/data/pullbox/..."), keeps pullboxd's defaults
 * for everything the admin does not set, and lists signature-key-previous
 * only while secrets->previous_until is in the future (now). */
int render_file(enum render_file f, const struct settings *st, const struct secrets *sec,
                long long now, struct render_buf *b);
void render_buf_free(struct render_buf *b);

/* True when pullboxd must be restarted, not sent SIGHUP, to go from the
 * pullbox.conf text before (NULL: none) to after: it picks its store
 * (memory, journal or Redis) and its node name when it starts, so a change
 * of redis*, journal-* or node-name lines needs a restart. */
bool render_pullbox_needs_restart(const char *before, const char *after);

/* The file's path under the root (PATH_PULLBOX_CONF, ...). */
const char *render_file_path(enum render_file f);

/* Renders every file and writes the changed ones under the root; a file
 * rendered absent is removed. changed[f] tells which were written or
 * removed. Returns 0 or -1 with err. */
int render_all(const struct settings *st, const struct secrets *sec, long long now,
               bool changed[RF__COUNT], char *err, size_t errlen);

/* The iptables-restore rules pullbox-firewall would load for these settings
 * (IPv4 then IPv6), for the wizard's and the console's "show rules": runs
 * <root>/usr/sbin/pullbox-firewall print with the rendered firewall.conf
 * (execve, no shell). Returns 0 or -1. */
int render_firewall_rules(const struct settings *st, struct render_buf *b, char *err,
                          size_t errlen);

/* pullboxd's max-connections for an appliance with mem_bytes of memory: one
 * subscriber per 7.5 KiB (an idle one costs the appliance about 5.4 KiB:
 * its socket, conntrack entry and pullboxd's share; the rest leaves room
 * for a broadcast's socket buffers and the system), 1024 descriptors kept
 * for everything else, within pullboxd's run script's descriptor limit
 * (sized the same way, at most 1048576). */
long render_max_connections(unsigned long long mem_bytes);

#endif
