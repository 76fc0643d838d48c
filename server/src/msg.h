/* A published message: immutable once created, shared by every channel
 * history and output queue that holds it (msg_ref/msg_unref), and encoded at
 * most once per wire format, on first use. With several workers a message is
 * frozen before it crosses threads (msg_freeze): the encodings it will need
 * are made then, and later users of a missing one get a private copy, so
 * no two threads ever fill a cache. The reference count is atomic. */
#ifndef PULLBOX_MSG_H
#define PULLBOX_MSG_H

#include "first.h"

#include <stdatomic.h>

#define MSG_MID_LEN 26
/* Room kept before each cached encoding for the head that makes it a whole
 * WebSocket frame on its own: the frame header, and for protobuf the
 * ResponseBatch prefix (see msg_ws_frame). */
#define MSG_FRAME_ROOM 34

enum msg_enc {
    MSG_ENC_TEXT,    /* #!NGINXNMS!#{...}#!NGINXNME!# */
    MSG_ENC_PB,      /* OutgoingMessagesResponse.messages field (protobuf) */
    MSG_ENC_JSONRPC, /* {"jsonrpc":"2.0","method":"incoming.message",...} */
    MSG_ENC_SSE,     /* id: / data: event block */
    MSG_ENC_COUNT
};

enum msg_sender { MSG_SENDER_UNKNOWN = 0, MSG_SENDER_CLIENT = 1, MSG_SENDER_BACKEND = 2 };
/* In sender_type beside the type: sender_id holds a user id's digits (a V5
 * client, known by its token) instead of a 16-byte public channel id.
 * Stored with the message like the rest of sender_type; never on the wire. */
#define MSG_SENDER_F_USER 0x80u

struct msg {
    atomic_uint refs;
    atomic_uint qrefs;         /* output-queue segments viewing it (outq.c) */
    bool frozen;               /* shared between threads: the caches are read-only */
    uint64_t seq;              /* publish order, for de-duplication within one fan-out */
    char mid[MSG_MID_LEN + 1]; /* 26 digits: start time + counter */
    uint32_t created;          /* unix seconds */
    uint32_t expiry;           /* seconds the message is kept */
    uint16_t tag;              /* push-stream tag: sequence within `created` */
    uint8_t sender_type;       /* enum msg_sender, | MSG_SENDER_F_USER */
    uint8_t sender_id_len;
    uint8_t sender_id[16];
    char *channel;            /* first target channel, for text frames */
    char *user_params;        /* V5: JSON object {userId: {...}} or NULL */
    char *dictionary;         /* V5: JSON object or NULL */
    void *user_params_parsed; /* json_t of user_params, parsed once on first use */
    uint8_t *body;
    size_t body_len;
    struct {
        uint8_t *p; /* MSG_FRAME_ROOM bytes into its allocation */
        size_t len;
        uint8_t frame_head; /* bytes of the lone-message frame head just before p */
    } enc[MSG_ENC_COUNT];
};

/* What a message viewed by output queues keeps alive, as max-output-memory
 * counts it: the message, its body, its user_params and dictionary and the one
 * encoding a subscriber is sent.
 * Fixed before it is first queued, so that what is added when the first queue
 * takes it is what is taken away when the last lets go. */
size_t msg_footprint(const struct msg *m);

/* Creates a message with one reference held by the caller. Copies body. */
struct msg *msg_new(const char *mid, uint64_t seq, uint32_t created, uint16_t tag, uint32_t expiry,
                    const void *body, size_t body_len);
/* Sets the first target channel (copies). */
void msg_set_channel(struct msg *m, const char *channel);
void msg_set_sender(struct msg *m, uint8_t type, const uint8_t *id, size_t id_len);
/* Sets a client sender known by its user id (1 to 16 digits; copies);
 * false, and m unchanged, for anything else. */
bool msg_set_sender_user(struct msg *m, const char *user_id);
/* Whether body is what the Bitrix client can take as a message: a JSON
 * object whose module_id is a string (its handler throws on anything else,
 * and a long-polling client then stops polling). Client publishes must be. */
bool msg_body_is_pull_message(const void *body, size_t len);
/* The sender type as sent to clients (enum msg_sender). */
static inline unsigned msg_sender_type(const struct msg *m)
{
    return m->sender_type & ~MSG_SENDER_F_USER;
}
static inline bool msg_sender_is_user(const struct msg *m)
{
    return (m->sender_type & MSG_SENDER_F_USER) != 0;
}
static inline struct msg *msg_ref(struct msg *m)
{
    /* relaxed: a reference is only ever taken from one already held */
    atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
    return m;
}
/* n references at once: a fan-out takes one per subscriber in a single
 * atomic add instead of one each (a locked add per subscriber waits for
 * the stores before it, and a fan-out's stores are cache misses). */
static inline void msg_ref_n(struct msg *m, unsigned n)
{
    atomic_fetch_add_explicit(&m->refs, n, memory_order_relaxed);
}
void msg_unref(struct msg *m);
/* Lets go of n references; frees m when they were the last. */
void msg_unref_n(struct msg *m, unsigned n);
/* The message encoded for one wire format, built on first use and kept;
 * NULL when the message is frozen without it (see msg_encode_copy). */
const uint8_t *msg_encoding(struct msg *m, enum msg_enc e, size_t *len);
/* The encoding as one complete WebSocket frame for a subscriber that gets
 * this message alone (text frames for the text and JSON-RPC encodings, a
 * binary frame holding a one-message ResponseBatch for protobuf): its head
 * was written into the room before the encoding when that was made, so
 * every such delivery is one contiguous buffer, shared, never copied. NULL
 * when the message is frozen without that encoding, or for event streams. */
const uint8_t *msg_ws_frame(struct msg *m, enum msg_enc e, size_t *len);
/* The encoding as a new malloc'ed copy the caller frees (for a frozen
 * message that was not encoded in that format). */
uint8_t *msg_encode_copy(const struct msg *m, enum msg_enc e, size_t *len);
/* Makes the encodings in `formats` (bits 1 << enum msg_enc) and the parsed
 * user_params, then marks m read-only: from here on it may be shared with
 * other threads. */
void msg_freeze(struct msg *m, unsigned formats);
/* V5: encodes the JSON-RPC form for one recipient user (with that user's
 * user_params merged); returns a malloc'ed string, or NULL when the cached
 * form applies. */
char *msg_jsonrpc_for_user(struct msg *m, const char *user_id, size_t *len);
/* RFC 1123 date of a unix time into out[30]. */
void msg_http_date(uint32_t t, char out[30]);
/* Parses an RFC 1123 date; returns false when it is not one. */
bool msg_parse_http_date(const char *s, size_t len, uint32_t *out);

#endif
