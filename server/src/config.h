/* pullbox.conf: one `key = value` per line, '#' starts a comment. Every key
 * is a row of one table (config.c), which also gives its bounds, default and
 * help text; `pullboxd --print-config` prints the table as a commented file. */
#ifndef PULLBOX_CONFIG_H
#define PULLBOX_CONFIG_H

#include "first.h"

#include <stdio.h>

#define CONFIG_MAX_LISTEN 4

enum config_algo { CONFIG_ALGO_SHA1, CONFIG_ALGO_SHA256 };
enum config_tls_version { CONFIG_TLS_12, CONFIG_TLS_13 };

struct config {
    /* listeners: comma-separated host:port lists; "off" = none */
    char *listen_subscribe;
    char *listen_publish;
    char *listen_subscribe_tls; /* https and wss */
    char *listen_publish_tls;

    char *tls_certificate; /* PEM: the certificate, optionally followed by its chain */
    char *tls_key;
    char *tls_chain; /* optional separate chain file */
    char *tls_ciphers;
    char *tls_ciphersuites;
    int tls_min_version; /* enum config_tls_version */
    long tls_handshake_timeout;

    char *signature_key;
    char *signature_key_previous; /* still accepted during a key rotation */
    int signature_algorithm;      /* enum config_algo */

    char *path_subscribe;    /* long polling (+ websocket upgrade) */
    char *path_subscribe_ws; /* websocket (+ long polling) */
    char *path_publish;      /* trusted publish and stats */
    char *path_publish_web;  /* untrusted client publish */
    char *path_publish_web_alt;
    char *path_api;         /* V5 JSON-RPC */
    char *path_server_stat; /* JSON stats */
    char *path_eventsource; /* EventSource subscriptions */

    long longpoll_timeout;
    long ws_ping_interval;
    long io_collect_interval; /* microseconds */
    long jsonrpc_ping_interval;
    long header_timeout;
    long idle_timeout;
    long send_timeout;
    long shutdown_timeout;

    long message_ttl;
    long history_length;
    long catchup_per_channel;
    long catchup_total;

    long max_header_size;
    long max_body_size;
    long max_channels_per_request;
    long max_messages_per_request;
    long max_channel_id_length;
    long max_connections_per_channel;
    long max_channels;
    long max_connections;
    long max_connections_per_address;
    int per_address_loopback; /* 0 off, 1 on: loopback clients count too */
    long max_ws_frame_size;
    long max_output_buffer;
    long max_output_memory; /* MiB queued for output in all; 0: from MemTotal */
    long max_queued_deliveries; /* deliveries queued in all before big publishes wait */
    long max_input_memory;
    long online_grace;
    long last_seen_max_users;
    long client_max_message_size; /* untrusted publishes: bytes per message */
    long client_publish_rate;     /* messages/s per connection (token bucket) */
    long client_publish_burst;    /* the bucket's size */
    long client_message_ttl;      /* seconds a client message is kept */
    long client_history_length;   /* client messages kept per channel */
    long history_memory;          /* MiB of history in all; 0: from MemTotal */

    char *journal_path;        /* directory; empty: the in-memory store */
    char *journal_sync_str;    /* "always" or milliseconds */
    long journal_sync;         /* 0: always, else the batch window in ms */
    long journal_segment_size; /* MiB */
    long journal_max_size;     /* MiB, 0: unbounded */

    char *redis;                 /* empty: one node; else host:port, unix:/path or Sentinels */
    char *redis_user; /* ACL user; empty: the default user */
    char *redis_password;
    char *redis_prefix;          /* every key and the fan-out channel start with it */
    char *redis_sentinel_master; /* the master name Sentinels are asked for */
    long redis_timeout;          /* ms */
    long redis_max_inflight;     /* publishes waiting for Redis; 503 beyond */
    long redis_client_memory;    /* MiB of client messages kept in Redis */
    int redis_tls;               /* 0 off, 1 on: TLS to Redis and the Sentinels */
    char *redis_tls_ca;          /* PEM file of the CA Redis's certificate must chain to */
    char *redis_tls_fingerprint; /* SHA-256 of the CA certificate Redis presents, pinned */
    char *redis_tls_name;        /* the name or IP its certificate must carry; empty: the host */
    char *node_name;             /* empty: the host name */

    char *user;
    long workers;  /* event-loop threads; 0: one per CPU it may use */
    int log_level; /* enum log_level */
};

/* Fills cfg with the defaults (strings allocated). */
void config_defaults(struct config *cfg);
/* Loads path over the defaults. Returns 0, or -1 with err naming the file,
 * line, key and accepted range. On failure cfg holds nothing to free. */
int config_load(const char *path, struct config *cfg, char *err, size_t errlen);
/* Cross-key checks after loading (e.g. signature key present). */
int config_validate(const struct config *cfg, char *err, size_t errlen);
void config_free(struct config *cfg);
/* A deep copy of src into dst (for a worker thread: each owns its config). */
void config_dup(struct config *dst, const struct config *src);
/* For a reload: every key read at start only (CONFIG_OPT_RESTART) gets its
 * running value back in next (strings are swapped, so pointers into the
 * running ones stay valid once running is freed); changed, when not NULL, is
 * called with each such key whose new value differed. */
void config_keep_restart_only(struct config *next, struct config *running,
                               void (*changed)(const char *key));
/* Writes the whole table as a commented config file. key_override, when not
 * NULL, is written as the signature-key value. */
void config_print(FILE *out, const char *key_override);

#endif
