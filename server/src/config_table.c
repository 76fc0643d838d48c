/* The pullbox.conf keys: one row per key with its type, bounds, default,
 * help text and flags (as Redis's config table marks immutable keys).
 * config.c loads, checks and prints through it; config-ui compiles this file
 * too, to ask which keys pullboxd reads only at its start. */
#include "first.h"

#include "config_table.h"

#include "config.h"

#include <string.h>

static const char *const algo_names[] = {"sha1", "sha256", NULL};
static const char *const tls_version_names[] = {"1.2", "1.3", NULL};
static const char *const off_on_names[] = {"off", "on", NULL};
static const char *const log_level_names[] = {"error", "warn", "info", "debug", NULL};

#define F(field) offsetof(struct config, field)
#define STR(n, f, d, h, ...)                                                                       \
    {                                                                                              \
        n, CONFIG_OPT_STR, F(f), 0, 0, NULL, d, h, __VA_ARGS__ + 0                                 \
    }
#define PATH(n, f, d, h, ...)                                                                      \
    {                                                                                              \
        n, CONFIG_OPT_PATH, F(f), 0, 0, NULL, d, h, __VA_ARGS__ + 0                                \
    }
#define INT(n, f, lo, hi, d, h, ...)                                                               \
    {                                                                                              \
        n, CONFIG_OPT_INT, F(f), lo, hi, NULL, d, h, __VA_ARGS__ + 0                               \
    }
#define ENUM(n, f, names, d, h, ...)                                                               \
    {                                                                                              \
        n, CONFIG_OPT_ENUM, F(f), 0, 0, names, d, h, __VA_ARGS__ + 0                               \
    }

#define RESTART CONFIG_OPT_RESTART

static const struct config_opt options[] = {
    STR("listen-subscribe", listen_subscribe, "0.0.0.0:8893",
        "Browsers and mobile apps: long polling, WebSocket, EventSource and client publish.\n"
        "Comma-separated host:port list ([v6]:port for IPv6), or off.",
        RESTART),
    STR("listen-publish", listen_publish, "0.0.0.0:8895",
        "The Bitrix web server: trusted publish, channel stats, JSON-RPC, /server-stat/,\n"
        "/health and /metrics. Firewall it to the Bitrix servers' addresses.",
        RESTART),
    STR("listen-subscribe-tls", listen_subscribe_tls, "0.0.0.0:8894",
        "The subscribe paths over TLS (https, wss), or off. Needs tls-certificate and tls-key.",
        RESTART),
    STR("listen-publish-tls", listen_publish_tls, "off",
        "The publish paths over TLS, for sites that publish across an untrusted network.", RESTART),
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
    INT("send-timeout", send_timeout, 1, 3600, "60",
        "Seconds a connection may take no output at all before it is closed, whatever\n"
        "its state (nginx's send_timeout is 60 too): a peer that never reads is not\n"
        "kept forever, while a slow mobile link that reads now and then stays."),
    INT("shutdown-timeout", shutdown_timeout, 0, 60, "3",
        "Seconds SIGTERM waits for subscribers to receive their close. 5 s later the\n"
        "process ends whatever is still running (a stuck thread or store close), so a\n"
        "restart by runit is never held up."),
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
    INT("max-connections-per-address", max_connections_per_address, 0, 10000000, "4096",
        "Open connections on the subscribe ports from one IPv4 address or one IPv6 /64\n"
        "(further ones get 503; 0: no limit). Each browser tab holds one socket, and an\n"
        "office of a few hundred users (several tabs each, the desktop app, phones on\n"
        "its Wi-Fi) shares one NAT address: 4096 leaves such an office room, while one\n"
        "address can take no more than about 4% of max-connections. IPv6 counts per /64, as a\n"
        "site gets at least a /64 and may use any address in it. Behind a reverse proxy\n"
        "every client has the proxy's address: set 0 there."),
    ENUM("per-address-loopback", per_address_loopback, off_on_names, "off",
         "on: max-connections-per-address counts clients on loopback (127.0.0.0/8, ::1)\n"
         "too. Off: they are processes on this machine (a reverse proxy in front, a local\n"
         "load test, monitoring), not internet clients sharing an address, and every one\n"
         "of them would otherwise share one address's allowance."),
    INT("max-ws-frame-size", max_ws_frame_size, 125, 67108864, "1048576",
        "Bytes of a WebSocket message from a client (close 1009 beyond)."),
    INT("max-output-buffer", max_output_buffer, 65536, 1073741824, "4194304",
        "Bytes queued to one connection that does not read (deliveries, answers, pings);\n"
        "it is dropped beyond (a WebSocket with close 1013 after the frame being written,\n"
        "so that it resumes by mid). Reading a connection already stops at 16 KiB of queued\n"
        "output, so beyond that only deliveries and pings add to it."),
    INT("max-output-memory", max_output_memory, 0, 1048576, "0",
        "MiB of output queued to all connections together (what max-output-buffer bounds\n"
        "for one): beyond it the connections holding the most are dropped first, a\n"
        "WebSocket with close 1013 (it reconnects and resumes by mid from history), and\n"
        "everyone else is served on. Without it 20000 clients that stop reading hold\n"
        "max-output-buffer each. 0: an eighth of the machine's memory, at least 16 and at\n"
        "most 4096 MiB, as for history-memory. What counts is the queues' own memory and\n"
        "each message they view once, however many connections it is queued to: never-\n"
        "readers sharing one catch-up are not dropped while it fits."),
    INT("max-queued-deliveries", max_queued_deliveries, 1000, 1000000000, "500000",
        "Deliveries queued to subscribers and not yet written, in all, past which a publish\n"
        "to a channel with more than 256 subscribers (or any protobuf or JSON-RPC publish)\n"
        "waits, unread, until the fan-outs before it have caught up: a publisher faster\n"
        "than the fan-outs is slowed to them, and nothing is dropped for it. The default\n"
        "is a few hundred milliseconds of writing (4 MB of queue, 8 bytes a delivery; the\n"
        "messages are shared): enough for dozens of messages a write to each subscriber.\n"
        "Text publishes to small channels, text channel stats (GET) and /health are answered\n"
        "meanwhile; protobuf requests (channel stats too) wait with the publishes."),
    INT("max-input-memory", max_input_memory, 1048576, 1073741824, "67108864",
        "Bytes of requests and WebSocket messages larger than 16 KiB held at once, all\n"
        "subscribe-port connections together; one that needs more while it is full gets\n"
        "503 (WebSocket: close 1013). Without it, max-connections clients that each send\n"
        "a body or message just under its limit, slowly, make pullboxd hold that many\n"
        "MiB; large client publishes are rare, so 64 MiB serves them."),
    INT("online-grace", online_grace, 0, 3600, "130",
        "Seconds a channel counts as online after its last subscriber left."),
    INT("client-max-message-size", client_max_message_size, 16, 67108864, "65536",
        "Bytes of one message a client publishes (/bitrix/rest/, WebSocket, JSON-RPC):\n"
        "what clients send is typing notices and call signalling (a few KiB of SDP), so\n"
        "64 KiB leaves room while a colleague's public id no longer posts 1 MiB ones."),
    INT("client-publish-rate", client_publish_rate, 1, 100000, "10",
        "Messages per second one connection may publish, sustained (a token bucket\n"
        "refilled at this rate): a person does not type or call 10 times a second."),
    INT("client-publish-burst", client_publish_burst, 1, 100000, "50",
        "Messages one connection may publish at once before client-publish-rate\n"
        "applies (the bucket's size): room for a batch the client queued offline."),
    INT("client-message-ttl", client_message_ttl, 0, 2592000, "900",
        "Seconds a client-published message is kept for catch-up (at most message-ttl):\n"
        "longer than the clients' 600 s reconnect backoff, far shorter than a day."),
    INT("client-history-length", client_history_length, 0, 100000, "10",
        "Client-published messages kept per channel (within history-length); the\n"
        "oldest of them goes first, so they never push the site's messages out."),
    INT("history-memory", history_memory, 0, 1048576, "0",
        "MiB of messages kept as history across all channels; beyond it the oldest\n"
        "go first (live delivery is unaffected). 0: an eighth of the machine's memory,\n"
        "at least 16 and at most 4096 MiB: each kept message may also hold up to\n"
        "three encoded copies for the subscribers' formats, so history stays under\n"
        "about half of memory, and a journal replay cannot refill more than that."),
    INT("last-seen-max-users", last_seen_max_users, 1, 10000000, "100000",
        "Users whose last-seen time the site may report (V5 updateUsersLastSeen), kept\n"
        "for getUsersLastSeen. 40 bytes each, so 4 MB at most by default: more users\n"
        "than a large portal has; beyond it the user reported longest ago is forgotten\n"
        "(the client then asks the site, which reports it again)."),
    STR("journal-path", journal_path, "",
        "Directory of the message journal, so that no message is lost across restarts\n"
        "(empty: keep messages in memory only).",
        RESTART),
    STR("journal-sync", journal_sync_str, "always",
        "always: fdatasync before a publish is acknowledged (group commit per loop turn);\n"
        "or N (1-10000): fdatasync every N ms, so a power loss may lose the last N ms of\n"
        "acknowledged messages (a crash or restart loses nothing: the data is written).",
        RESTART),
    INT("journal-segment-size", journal_segment_size, 1, 4096, "16",
        "MiB per journal segment; a segment is removed once all its messages expired.", RESTART),
    INT("journal-max-size", journal_max_size, 0, 1048576, "1024",
        "MiB the journal may take; beyond it the oldest segments go early (0: no limit).", RESTART),
    STR("redis", redis, "",
        "Several nodes as one server: the Redis they share (host:port, unix:/path, or\n"
        "sentinel:host:port,host:port,... to ask Sentinels for redis-sentinel-master).\n"
        "Publishes fan out to every node through it and history lives in it, so a client\n"
        "resumes by mid on any node. Empty: this node alone (memory or journal store).",
        RESTART),
    STR("redis-user", redis_user, "",
        "Redis ACL user to authenticate as, with redis-password (empty: the default user).\n"
        "An appliance hub gives user pullbox only the commands pullboxd uses.",
        RESTART),
    STR("redis-password", redis_password, "", "Password for Redis AUTH (empty: none).", RESTART),
    STR("redis-prefix", redis_prefix, "pullbox:",
        "Prefix of every Redis key and of the fan-out channel (one per cluster).", RESTART),
    STR("redis-sentinel-master", redis_sentinel_master, "mymaster",
        "Master name asked from the Sentinels listed in redis.", RESTART),
    INT("redis-timeout", redis_timeout, 10, 60000, "1000",
        "Milliseconds Redis may take to connect or reply; beyond it the connection is\n"
        "dropped, waiting publishes answer 503 and it reconnects (100 ms doubling to 5 s).",
        RESTART),
    INT("redis-max-inflight", redis_max_inflight, 1, 1000000, "1000",
        "Publishes waiting for Redis at once; further ones answer 503 at once."),
    INT("redis-client-memory", redis_client_memory, 0, 1048576, "64",
        "MiB of client-published messages Redis keeps for catch-up, the whole cluster's;\n"
        "beyond it the oldest go first. Redis keeps a message for its whole expiry, so\n"
        "without it clients could fill Redis (the hub's maxmemory is 256 MiB) and every\n"
        "publish would fail; 64 leaves the site's messages the rest. 0: none kept."),
    ENUM("redis-tls", redis_tls, off_on_names, "off",
         "on: TLS to Redis and to the Sentinels, their certificate checked against\n"
         "redis-tls-ca or redis-tls-fingerprint and the name or address pullboxd dials; one\n"
         "that does not verify is logged and retried, and nothing (AUTH included) is sent in\n"
         "clear. off, as a plain Redis (Debian's) listens: for a Redis on this machine or a\n"
         "trusted network only, as the password then crosses it readable.",
         RESTART),
    STR("redis-tls-ca", redis_tls_ca, "",
        "PEM file of the CA (or self-signed certificate) Redis's certificate must chain to.",
        RESTART),
    STR("redis-tls-fingerprint", redis_tls_fingerprint, "",
        "SHA-256 of the CA certificate Redis presents in its chain (64 hex digits, colons\n"
        "allowed), pinned instead of redis-tls-ca: a short value to copy, as an appliance\n"
        "hub's Cluster page shows it; Redis's certificate must still chain to it and carry\n"
        "the name.",
        RESTART),
    STR("redis-tls-name", redis_tls_name, "",
        "Name or IP address Redis's certificate must carry (empty: the host in redis, or the\n"
        "address the Sentinels give).",
        RESTART),
    STR("node-name", node_name, "", "This node's name in stats and logs (empty: the host name).",
        RESTART),
    STR("user", user, "", "Drop root privileges to this user after binding (empty: stay).",
        RESTART),
    INT("workers", workers, 0, 64, "0",
        "Event-loop threads: 0 = one per CPU the process may use, 1 = a single loop. Each worker\n"
        "accepts subscribers on its own listening socket (SO_REUSEPORT) and serves\n"
        "them alone; the publish port stays on the first. The Redis store runs one.",
        RESTART),
    ENUM("log-level", log_level, log_level_names, "info", "error, warn, info or debug."),
};

const struct config_opt *config_opts(size_t *n)
{
    *n = ARRAY_LEN(options);
    return options;
}

const struct config_opt *config_opt_find(const char *name)
{
    for (size_t i = 0; i < ARRAY_LEN(options); i++)
        if (strcmp(options[i].name, name) == 0)
            return &options[i];
    return NULL;
}

bool config_key_restart_only(const char *name)
{
    const struct config_opt *o = config_opt_find(name);
    return o && (o->flags & CONFIG_OPT_RESTART);
}
