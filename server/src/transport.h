/* Subscriber transports: how a subscription reaches its client. Each one
 * (long poll, EventSource, WebSocket) is a file behind one table of
 * operations, as the stores are behind store_ops: the connection layer
 * (conn.c), the subscription layer (sub.c) and the server only call
 * through this table and never ask which transport a connection uses.
 *
 * Adding a transport is one file with its `const struct transport_ops`,
 * one entry in transports[] (transport.c) and one config row for its path.
 *
 * Codes given to end() are WebSocket close codes (1001 going away, 1012
 * resume elsewhere, 1013 try again later) or Bitrix codes (4010, 4029...);
 * each transport says them in its own way (a close frame, a 304 with the
 * resume mid, an HTTP error answer, a closed stream). */
#ifndef PULLBOX_TRANSPORT_H
#define PULLBOX_TRANSPORT_H

#include "first.h"

#include "msg.h"

struct conn;
struct config;
struct conn_piece;
struct http1_request;

/* Transports known: the size of the per-transport gauges. */
#define TRANSPORT_MAX 4

struct transport_ops {
    /* also /metrics' label for its subscribers ({transport="websocket"}) */
    const char *name;
    /* what /server-stat/ calls its subscribers ("websockets") */
    const char *stat_key;
    /* its index in transports[] (tests/integration/06-layering.py checks),
     * which is also its place in the gauges */
    unsigned id;
    /* the config key of its path (a prefix; every transport's path takes
     * every transport's requests, as Push server 2.0's do) */
    const char *(*path)(const struct config *cfg);
    /* Whether it serves this subscribe request (own_path: the request came
     * on its own path). NULL: the transport of requests nobody claims. */
    bool (*claims)(const struct http1_request *req, bool own_path);
    /* The wire format it forces on every message (enum conn_fmt), or -1
     * when the client picks it. */
    int forced_fmt;
    /* Optional: a handshake before anything is subscribed. Returns false
     * after answering an error (the connection stays plain HTTP). */
    bool (*open)(struct conn *c, const struct http1_request *req);
    /* Subscribed (and the catch-up queued): answer head, timers, gauges. */
    void (*start)(struct conn *c);
    /* Sends the deliveries as one answer, frame or event block: v[1..n)
     * are the payload pieces (len bytes in all), v[0] is free for the
     * transport's head; newest is the last message in it. */
    void (*deliver)(struct conn *c, struct conn_piece *v, size_t n, size_t len,
                    const struct msg *newest);
    /* Optional: sends one message alone as a buffer the message caches
     * whole, head included (a WebSocket frame: msg_ws_frame), so that
     * delivering it is one contiguous write; false when it has none cached
     * (then deliver() sends it). e is the connection's encoding. */
    bool (*deliver_one)(struct conn *c, struct msg *m, enum msg_enc e);
    /* Each deliver() is one frame that the client reads whole, and clients
     * cap a frame's size (a WebSocket): a big batch (a catch-up, a backlog)
     * is handed over as several, each whole in its format. Else all that is
     * queued goes in one deliver() (a long poll answers once). */
    bool bounded_frames;
    /* Its timer ran out: a keep-alive for streams (closes one whose peer
     * never answered the last), the end of a long poll. */
    void (*ping)(struct conn *c);
    /* Ends the subscription with code and reason (see above). */
    void (*end)(struct conn *c, uint16_t code, const char *reason);
    /* What end() says may follow any whole frame of queued output (a
     * WebSocket close frame): a connection dropped for the output it holds
     * is told why. Else such a connection is simply closed. */
    bool end_after_output;
    /* Optional: handles input buffered in c->in (WebSocket frames). NULL:
     * input waits until the subscription ends. */
    void (*input)(struct conn *c);
    /* Optional: a message to the client outside deliveries (a JSON-RPC
     * answer, a protobuf ResponseBatch). */
    void (*send)(struct conn *c, bool binary, const void *p, size_t n);
    /* Optional: input bytes it may buffer unhandled (default
     * max-header-size) and bytes it holds beyond c->in (fragments). */
    size_t (*input_cap)(const struct conn *c);
    size_t (*held)(const struct conn *c);
    /* Optional: frees its state (c->tp_state) when the connection goes. */
    void (*free)(struct conn *c);
};

extern const struct transport_ops transport_websocket;
extern const struct transport_ops transport_longpoll;
extern const struct transport_ops transport_eventsource;

/* Every transport, in gauge order. */
extern const struct transport_ops *const transports[];
extern const unsigned n_transports;

/* The transport for a subscribe request, or NULL when its path is no
 * transport's. */
const struct transport_ops *transport_for(const struct config *cfg,
                                          const struct http1_request *req);

#endif
