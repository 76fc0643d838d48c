#include "first.h"

#include "config.h"
#include "log.h"
#include "redis_conn.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum opt_type { OPT_STR, OPT_INT, OPT_ENUM, OPT_PATH };

struct opt {
    const char *name;
    enum opt_type type;
    size_t offset;
    long min, max;            /* OPT_INT bounds */
    const char *const *names; /* OPT_ENUM values, index = stored int */
    const char *def;          /* default, as it would be written in the file */
    const char *help;
};

static const char *const algo_names[] = {"sha1", "sha256", NULL};
static const char *const tls_version_names[] = {"1.2", "1.3", NULL};
static const char *const level_names[] = {"error", "warn", "info", "debug", NULL};

#define F(field) offsetof(struct config, field)
#define STR(n, f, d, h)                                                                            \
    {                                                                                              \
        n, OPT_STR, F(f), 0, 0, NULL, d, h                                                         \
    }
#define PATH(n, f, d, h)                                                                           \
    {                                                                                              \
        n, OPT_PATH, F(f), 0, 0, NULL, d, h                                                        \
    }
#define INT(n, f, lo, hi, d, h)                                                                    \
    {                                                                                              \
        n, OPT_INT, F(f), lo, hi, NULL, d, h                                                       \
    }
#define ENUM(n, f, names, d, h)                                                                    \
    {                                                                                              \
        n, OPT_ENUM, F(f), 0, 0, names, d, h                                                       \
    }

static const struct opt options[] = {
    STR("listen-subscribe", listen_subscribe, "0.0.0.0:8893",
        "Browsers and mobile apps: long polling, WebSocket, EventSource and client publish.\n"
        "Comma-separated host:port list ([v6]:port for IPv6), or off."),
    STR("listen-publish", listen_publish, "0.0.0.0:8895",
        "The Bitrix web server: trusted publish, channel stats, JSON-RPC, /server-stat/,\n"
        "/health and /metrics. Firewall it to the Bitrix servers' addresses."),
    STR("listen-subscribe-tls", listen_subscribe_tls, "0.0.0.0:8894",
        "The subscribe paths over TLS (https, wss), or off. Needs tls-certificate and tls-key."),
    STR("listen-publish-tls", listen_publish_tls, "off",
        "The publish paths over TLS, for sites that publish across an untrusted network."),
    STR("tls-certificate", tls_certificate, "/etc/pullbox/tls/cert.pem",
        "PEM certificate, optionally followed by its chain (pullboxd --make-cert writes one)."),
    STR("tls-key", tls_key, "/etc/pullbox/tls/key.pem", "PEM private key of the certificate."),
    STR("tls-chain", tls_chain, "", "Optional PEM file of intermediate certificates."),
    STR("tls-ciphers", tls_ciphers,
        "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
        "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305",
        "TLS 1.2 cipher list (OpenSSL syntax): forward secrecy and AEAD only."),
    STR("tls-ciphersuites", tls_ciphersuites,
        "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256",
        "TLS 1.3 cipher suites."),
    ENUM("tls-min-version", tls_min_version, tls_version_names, "1.2",
         "Oldest TLS version accepted: 1.2 or 1.3."),
    INT("tls-handshake-timeout", tls_handshake_timeout, 1, 600, "10",
        "Seconds a client may take to finish the TLS handshake."),
    STR("signature-key", signature_key, "",
        "The HMAC key that signs channel ids: the pull module's signature_key. Required."),
    STR("signature-key-previous", signature_key_previous, "",
        "A previous key still accepted (set it for the grace period of a key rotation)."),
    ENUM("signature-algorithm", signature_algorithm, algo_names, "sha1",
         "HMAC hash of channel signatures: sha1 (Bitrix default) or sha256."),
    PATH("path-subscribe", path_subscribe, "/bitrix/sub/",
         "Long polling path (a WebSocket upgrade is accepted here too)."),
    PATH("path-subscribe-ws", path_subscribe_ws, "/bitrix/subws/",
         "WebSocket path (long polling is served here too, as nginx rewrites /sub/ to it)."),
    PATH("path-publish", path_publish, "/bitrix/pub/", "Trusted publish and channel stats."),
    PATH("path-publish-web", path_publish_web, "/bitrix/rest/", "Untrusted client publish."),
    PATH("path-publish-web-alt", path_publish_web_alt, "/bitrix/pubweb/",
         "Second client publish path (the pull module's default path_to_publish_web)."),
    PATH("path-api", path_api, "/bitrix/api/", "V5 JSON-RPC endpoint (publish port)."),
    PATH("path-server-stat", path_server_stat, "/server-stat/",
         "Server statistics (publish port)."),
    PATH("path-eventsource", path_eventsource, "/bitrix/events/",
         "EventSource (text/event-stream) subscriptions, for non-Bitrix clients."),
    INT("longpoll-timeout", longpoll_timeout, 1, 3600, "40",
        "Seconds a long poll is held before the 304 answer."),
    INT("ws-ping-interval", ws_ping_interval, 1, 3600, "40",
        "Seconds between WebSocket pings; a peer that misses a pong is dropped."),
    INT("jsonrpc-ping-interval", jsonrpc_ping_interval, 1, 3600, "10",
        "Seconds between V5 \"ping\" text frames (the client gives up after 20)."),
    INT("io-collect-interval", io_collect_interval, -1, 10000, "-1",
        "Microseconds a busy loop turn lasts at least: events that come meanwhile wait\n"
        "for the next turn, so a steady load is handled in fewer, fuller turns (at\n"
        "50k publishes/s: 7 us of CPU each instead of 18). Adds at most this much\n"
        "latency; 0: none. -1: 250 on a single node, 0 with redis (a publish there\n"
        "waits for Redis's reply, and a longer turn would hold every reply up)."),
    INT("header-timeout", header_timeout, 1, 600, "10",
        "Seconds a client may take to send a request head and body."),
    INT("idle-timeout", idle_timeout, 1, 3600, "65",
        "Seconds an idle keep-alive connection stays open."),
    INT("shutdown-timeout", shutdown_timeout, 0, 60, "3",
        "Seconds SIGTERM waits for subscribers to receive their close."),
    INT("message-ttl", message_ttl, 0, 2592000, "86400",
        "Seconds a message is kept for catch-up (capped by its own expiry)."),
    INT("history-length", history_length, 0, 100000, "100",
        "Messages kept per channel for catch-up by mid."),
    INT("catchup-per-channel", catchup_per_channel, 0, 100000, "100",
        "Most messages replayed per channel on a subscribe with mid."),
    INT("catchup-total", catchup_total, 0, 100000, "200",
        "Most messages replayed in all on one subscribe."),
    INT("max-header-size", max_header_size, 1024, 1048576, "16384",
        "Bytes of a request head (431 beyond)."),
    INT("max-body-size", max_body_size, 1024, 67108864, "1048576",
        "Bytes of a request body (413 beyond)."),
    INT("max-channels-per-request", max_channels_per_request, 1, 100000, "100",
        "Channels in one CHANNEL_ID list or one message's receivers."),
    INT("max-messages-per-request", max_messages_per_request, 1, 100000, "100",
        "Messages in one protobuf or JSON-RPC request."),
    INT("max-channel-id-length", max_channel_id_length, 32, 255, "64",
        "Characters of a channel id on the trusted publish side."),
    INT("max-connections-per-channel", max_connections_per_channel, 1, 1000000, "100",
        "Connections per private channel; the oldest is closed with 4029 beyond."),
    INT("max-channels", max_channels, 1, 100000000, "1000000",
        "Channels held at once (publish answers 503 beyond)."),
    INT("max-connections", max_connections, 1, 10000000, "100000",
        "Open connections on the subscribe ports (further ones get 503; the\n"
        "publish port is not counted, so the Bitrix server can always publish)."),
    INT("max-ws-frame-size", max_ws_frame_size, 125, 67108864, "1048576",
        "Bytes of a WebSocket message from a client (close 1009 beyond)."),
    INT("max-output-buffer", max_output_buffer, 65536, 1073741824, "4194304",
        "Bytes queued to one subscriber that does not read; it is dropped beyond."),
    INT("online-grace", online_grace, 0, 3600, "130",
        "Seconds a channel counts as online after its last subscriber left."),
    STR("journal-path", journal_path, "",
        "Directory of the message journal, so that no message is lost across restarts\n"
        "(empty: keep messages in memory only)."),
    STR("journal-sync", journal_sync_str, "always",
        "always: fdatasync before a publish is acknowledged (group commit per loop turn);\n"
        "or N (1-10000): fdatasync every N ms, so a power loss may lose the last N ms of\n"
        "acknowledged messages (a crash or restart loses nothing: the data is written)."),
    INT("journal-segment-size", journal_segment_size, 1, 4096, "16",
        "MiB per journal segment; a segment is removed once all its messages expired."),
    INT("journal-max-size", journal_max_size, 0, 1048576, "1024",
        "MiB the journal may take; beyond it the oldest segments go early (0: no limit)."),
    STR("redis", redis, "",
        "Several nodes as one server: the Redis they share (host:port, unix:/path, or\n"
        "sentinel:host:port,host:port,... to ask Sentinels for redis-sentinel-master).\n"
        "Publishes fan out to every node through it and history lives in it, so a client\n"
        "resumes by mid on any node. Empty: this node alone (memory or journal store)."),
    STR("redis-password", redis_password, "", "Password for Redis AUTH (empty: none)."),
    STR("redis-prefix", redis_prefix, "pullbox:",
        "Prefix of every Redis key and of the fan-out channel (one per cluster)."),
    STR("redis-sentinel-master", redis_sentinel_master, "mymaster",
        "Master name asked from the Sentinels listed in redis."),
    INT("redis-timeout", redis_timeout, 10, 60000, "1000",
        "Milliseconds Redis may take to connect or reply; beyond it the connection is\n"
        "dropped, waiting publishes answer 503 and it reconnects (100 ms doubling to 5 s)."),
    INT("redis-max-inflight", redis_max_inflight, 1, 1000000, "1000",
        "Publishes waiting for Redis at once; further ones answer 503 at once."),
    STR("node-name", node_name, "", "This node's name in stats and logs (empty: the host name)."),
    STR("user", user, "", "Drop root privileges to this user after binding (empty: stay)."),
    INT("workers", workers, 0, 64, "0",
        "Event-loop threads: 0 = one per CPU the process may use, 1 = a single loop. Each worker\n"
        "accepts subscribers on its own listening socket (SO_REUSEPORT) and serves\n"
        "them alone; the publish port stays on the first. The Redis store runs one."),
    ENUM("log-level", log_level, level_names, "info", "error, warn, info or debug."),
};

static void *field(struct config *cfg, const struct opt *o)
{
    return (char *)cfg + o->offset;
}

static int set_value(struct config *cfg, const struct opt *o, const char *v, char *err,
                     size_t errlen)
{
    switch (o->type) {
    case OPT_STR:
    case OPT_PATH: {
        if (o->type == OPT_PATH && (v[0] != '/' || strchr(v, '?') || strchr(v, ' '))) {
            snprintf(err, errlen, "%s: \"%s\" is not an absolute URL path", o->name, v);
            return -1;
        }
        char **s = field(cfg, o);
        free(*s);
        *s = xstrdup(v);
        return 0;
    }
    case OPT_INT: {
        errno = 0;
        char *end;
        long n = strtol(v, &end, 10);
        if (errno || end == v || *end || n < o->min || n > o->max) {
            snprintf(err, errlen, "%s: \"%s\" is not an integer from %ld to %ld", o->name, v,
                     o->min, o->max);
            return -1;
        }
        *(long *)field(cfg, o) = n;
        return 0;
    }
    case OPT_ENUM:
        for (int i = 0; o->names[i]; i++) {
            if (strcmp(v, o->names[i]) == 0) {
                *(int *)field(cfg, o) = i;
                return 0;
            }
        }
        char accepted[128] = "";
        for (int i = 0; o->names[i]; i++) {
            strncat(accepted, i ? ", " : "", sizeof accepted - strlen(accepted) - 1);
            strncat(accepted, o->names[i], sizeof accepted - strlen(accepted) - 1);
        }
        snprintf(err, errlen, "%s: \"%s\" is not one of %s", o->name, v, accepted);
        return -1;
    }
    return -1;
}

void config_defaults(struct config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    char err[256];
    for (size_t i = 0; i < ARRAY_LEN(options); i++) {
        if (set_value(cfg, &options[i], options[i].def, err, sizeof err) != 0)
            abort(); /* the table itself is wrong */
    }
}

void config_free(struct config *cfg)
{
    for (size_t i = 0; i < ARRAY_LEN(options); i++) {
        if (options[i].type == OPT_STR || options[i].type == OPT_PATH) {
            char **s = field(cfg, &options[i]);
            free(*s);
            *s = NULL;
        }
    }
}

void config_dup(struct config *dst, const struct config *src)
{
    *dst = *src;
    for (size_t i = 0; i < ARRAY_LEN(options); i++) {
        if (options[i].type == OPT_STR || options[i].type == OPT_PATH) {
            char **s = field(dst, &options[i]);
            *s = xstrdup(*s ? *s : "");
        }
    }
}

#define CONFIG_MAX_LINE 4094 /* bytes before the line break */

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    char *e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
        *--e = '\0';
    return s;
}

int config_load(const char *path, struct config *cfg, char *err, size_t errlen)
{
    config_defaults(cfg);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        config_free(cfg);
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int lineno = 0;
    char why[512];
    while ((n = getline(&line, &cap, f)) >= 0) {
        lineno++;
        if ((size_t)n - (line[n - 1] == '\n') > CONFIG_MAX_LINE) {
            snprintf(err, errlen, "%s:%d: line longer than %d bytes", path, lineno,
                     CONFIG_MAX_LINE);
            goto fail;
        }
        /* a C string would end there and drop the rest of the line unseen */
        if (memchr(line, '\0', (size_t)n)) {
            snprintf(err, errlen, "%s:%d: a NUL byte (not a text file?)", path, lineno);
            goto fail;
        }
        char *s = trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(err, errlen, "%s:%d: expected \"key = value\"", path, lineno);
            goto fail;
        }
        *eq = '\0';
        char *key = trim(s), *val = trim(eq + 1);
        const struct opt *o = NULL;
        for (size_t i = 0; i < ARRAY_LEN(options); i++)
            if (strcmp(options[i].name, key) == 0)
                o = &options[i];
        if (!o) {
            snprintf(err, errlen, "%s:%d: unknown key \"%s\"", path, lineno, key);
            goto fail;
        }
        if (set_value(cfg, o, val, why, sizeof why) != 0) {
            snprintf(err, errlen, "%s:%d: %s", path, lineno, why);
            goto fail;
        }
    }
    free(line);
    fclose(f);
    return config_validate(cfg, err, errlen) == 0 ? 0 : (config_free(cfg), -1);
fail:
    free(line);
    fclose(f);
    config_free(cfg);
    return -1;
}

int config_validate(const struct config *cfg, char *err, size_t errlen)
{
    if (strlen(cfg->signature_key) < 16) {
        snprintf(err, errlen,
                 "signature-key: must be set to a secret of at least 16 characters "
                 "(pullboxd --print-config writes a config with a generated key)");
        return -1;
    }
    if (cfg->catchup_per_channel > cfg->history_length && cfg->history_length > 0) {
        /* not an error: catch-up simply cannot return more than is kept */
    }
    if (strcmp(cfg->journal_sync_str, "always") == 0) {
        ((struct config *)cfg)->journal_sync = 0;
    } else {
        char *end;
        long ms = strtol(cfg->journal_sync_str, &end, 10);
        if (end == cfg->journal_sync_str || *end || ms < 1 || ms > 10000) {
            snprintf(err, errlen,
                     "journal-sync: \"%s\" is not \"always\" or an integer from 1 to 10000 (ms)",
                     cfg->journal_sync_str);
            return -1;
        }
        ((struct config *)cfg)->journal_sync = ms;
    }
    if (cfg->redis[0]) {
        struct redis_addr a;
        if (redis_addr_parse(cfg->redis, &a, err, errlen) != 0)
            return -1;
        if (cfg->journal_path[0]) {
            snprintf(err, errlen, "journal-path and redis: set one (with redis, Redis keeps the "
                                  "history)");
            return -1;
        }
    }
    for (const char *p = cfg->node_name; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '-' || *p == '_') ||
            p - cfg->node_name >= 64) {
            snprintf(err, errlen, "node-name: \"%s\": at most 64 letters, digits, '.', '-', '_'",
                     cfg->node_name);
            return -1;
        }
    }
    if (cfg->signature_key_previous[0] && strlen(cfg->signature_key_previous) < 16) {
        snprintf(err, errlen, "signature-key-previous: must be empty or at least 16 characters");
        return -1;
    }
    return 0;
}

void config_print(FILE *out, const char *key_override)
{
    fprintf(out, "# pullbox.conf: the queue server's settings. `key = value`, '#' comments.\n"
                 "# SIGHUP reloads everything except the listen addresses and user.\n");
    for (size_t i = 0; i < ARRAY_LEN(options); i++) {
        const struct opt *o = &options[i];
        fputs("\n", out);
        const char *h = o->help;
        while (*h) {
            const char *nl = strchr(h, '\n');
            size_t n = nl ? (size_t)(nl - h) : strlen(h);
            fprintf(out, "# %.*s\n", (int)n, h);
            h += n + (nl ? 1 : 0);
        }
        const char *v = o->def;
        if (key_override && strcmp(o->name, "signature-key") == 0)
            v = key_override;
        fprintf(out, "%s = %s\n", o->name, v);
    }
}
