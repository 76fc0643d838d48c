/* A hand-written proto3 codec for exactly the messages of the Bitrix24 "Push & Pull"
 * protobuf protocol (docs/protocol.md §4.3): RequestBatch in (from PHP and from clients),
 * ResponseBatch out (to subscribers and to PHP).
 *
 * The decoder is picohttpparser-shaped: stateless, borrowed views into the caller's
 * input, never reads outside [buf, buf + len), every count bounded by struct pb_limits.
 * The encoder is built so that each published message is encoded once and the same
 * bytes are written to every subscriber (see pb_outgoing_batch_prefix). */
#ifndef PULLBOX_PB_H
#define PULLBOX_PB_H

#include "first.h"

#include "buf.h"

/* ---- wire-level helpers ---- */

enum pb_wire_type {
    PB_WT_VARINT = 0,
    PB_WT_I64 = 1,
    PB_WT_LEN = 2,
    PB_WT_SGROUP = 3, /* groups are proto2-only; rejected */
    PB_WT_EGROUP = 4,
    PB_WT_I32 = 5,
};

/* A varint is at most 10 bytes (64 bits / 7 bits per byte, rounded up). */
#define PB_VARINT_MAX 10

/* Number of bytes pb_put_varint writes for v (1..10). */
size_t pb_varint_len(uint64_t v);
/* Writes v as a varint at p (room for PB_VARINT_MAX bytes); returns bytes written. */
size_t pb_put_varint(uint8_t *p, uint64_t v);
/* Reads a varint from p[0..len). Returns bytes consumed (>0), -2 if the input ends
 * inside the varint, -1 if it is longer than 10 bytes or does not fit in 64 bits. */
int pb_get_varint(const uint8_t *p, size_t len, uint64_t *v);
/* Appends v as a varint to out. */
void pb_buf_put_varint(struct buf *out, uint64_t v);

/* Strict UTF-8 check (no overlongs, no surrogates, nothing above U+10FFFF), as proto3
 * requires for `string` fields. */
bool pb_utf8_valid(const uint8_t *p, size_t len);

/* ---- decoding RequestBatch ---- */

struct pb_bytes {
    const uint8_t *p; /* borrowed view into the decoder input: valid while that input is */
    size_t len;
};

/* Receiver and ChannelId have the same tags, so one struct serves both. */
struct pb_receiver {
    struct pb_bytes id; /* should be 16 raw bytes; checked by the caller, not here */
    bool is_private;
    struct pb_bytes signature;
};

struct pb_incoming_message {
    struct pb_receiver *receivers;
    size_t n_receivers;
    bool has_sender; /* PHP leaves it unset; the server fills in BACKEND */
    uint32_t sender_type;
    struct pb_bytes sender_id;
    struct pb_bytes body; /* valid UTF-8 */
    uint32_t expiry;
    struct pb_bytes type; /* valid UTF-8; statistics only */
};

enum pb_request_kind {
    PB_REQ_NONE, /* a Request with no command set: ignore it */
    PB_REQ_INCOMING_MESSAGES,
    PB_REQ_CHANNEL_STATS,
    PB_REQ_SERVER_STATS,
    PB_REQ_REGISTRATION, /* cloud only; structure checked, contents not kept */
};

struct pb_request {
    enum pb_request_kind kind;
    struct pb_incoming_message *messages; /* PB_REQ_INCOMING_MESSAGES */
    size_t n_messages;
    struct pb_receiver *channels; /* PB_REQ_CHANNEL_STATS */
    size_t n_channels;
};

struct pb_request_batch {
    struct pb_request *requests;
    size_t n_requests;
};

/* Upper bounds on counts; a count equal to the bound is accepted. */
struct pb_limits {
    size_t max_requests;  /* Requests per RequestBatch */
    size_t max_messages;  /* IncomingMessages per Request */
    size_t max_receivers; /* Receivers per IncomingMessage */
    size_t max_channels;  /* ChannelIds per ChannelStatsRequest */
};

enum {
    PB_OK = 0,
    PB_MALFORMED = -1,
    PB_TOO_MANY_MESSAGES = -2,
    PB_TOO_MANY_CHANNELS = -3,
    PB_TOO_MANY_REQUESTS = -4,
};

/* Decodes a RequestBatch from buf[0..len) (borrows: buf must outlive *out, whose
 * pb_bytes point into it). lim must not be NULL.
 * Returns PB_OK, filling *out (free with pb_request_batch_free), or a negative code
 * for the first problem found in input order, leaving *out empty (nothing to free):
 *   PB_MALFORMED          truncated, bad varint, length past its parent, wrong wire type
 *                         for a known field, a group, field number 0, invalid UTF-8
 *   PB_TOO_MANY_MESSAGES  messages in one Request > max_messages
 *   PB_TOO_MANY_CHANNELS  receivers of one message > max_receivers, or channels of one
 *                         ChannelStatsRequest > max_channels
 *   PB_TOO_MANY_REQUESTS  requests > max_requests
 * proto3 semantics: unknown fields are skipped, the last value of a scalar wins, the last
 * member of the oneof wins, and repeated occurrences of a sub-message merge.
 * An empty input is a valid batch with no requests. */
int pb_decode_request_batch(const uint8_t *buf, size_t len, const struct pb_limits *lim,
                            struct pb_request_batch *out);
/* Frees what pb_decode_request_batch allocated; b is empty afterwards. NULL is a no-op. */
void pb_request_batch_free(struct pb_request_batch *b);
/* Name of a PB_* code, for logs and tools. */
const char *pb_strerror(int code);

/* ---- encoding ResponseBatch ---- */

/* Appends one `OutgoingMessagesResponse.messages` field (tag 1, length-delimited)
 * holding OutgoingMessage{id=1, body=2, expiry=3, created=4 (fixed32), sender=5}.
 * All pointers are borrowed for the call (copied). body must be valid UTF-8.
 * The sender is always written, even for type 0 and an empty id: the SDK dereferences
 * message.sender and drops the whole batch when it is missing. */
void pb_encode_outgoing_message_field(struct buf *out, const uint8_t *id, size_t id_len,
                                      const char *body, size_t body_len, uint32_t expiry,
                                      uint32_t created, uint32_t sender_type,
                                      const uint8_t *sender_id, size_t sender_id_len);

#define PB_OUTGOING_PREFIX_MAX 24

/* Writes into hdr the prefix that, followed by payload_len bytes of concatenated fields
 * from pb_encode_outgoing_message_field, forms a complete
 * ResponseBatch{responses:[{outgoingMessages:{messages:[...]}}]}. Returns the prefix
 * length (at most 22). A delivery is then writev(prefix, field 1, field 2, ...). */
size_t pb_outgoing_batch_prefix(uint8_t hdr[PB_OUTGOING_PREFIX_MAX], size_t payload_len);

struct pb_channel_stat {
    const uint8_t *id;
    size_t id_len;
    bool is_private;
    bool is_online;
};

/* Appends a ResponseBatch with one Response{channelStats:{channels:[...]}} for
 * st[0..n) (borrowed for the call). n == 0 still writes the channelStats member. */
void pb_encode_channel_stats_response(struct buf *out, const struct pb_channel_stat *st, size_t n);
/* Appends a ResponseBatch with one Response{serverStats: JsonResponse{json}}. */
void pb_encode_server_stats_response(struct buf *out, const char *json, size_t len);
/* Appends a ResponseBatch with one Response{json (field 4, string)}. */
void pb_encode_json_response(struct buf *out, const char *json, size_t len);

#endif
