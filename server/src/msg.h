/* A published message: immutable once created, shared by every channel
 * history and output queue that holds it (msg_ref/msg_unref), and encoded at
 * most once per wire format, on first use. */
#ifndef PULLBOX_MSG_H
#define PULLBOX_MSG_H

#include "first.h"

#define MSG_MID_LEN 26

enum msg_enc {
    MSG_ENC_TEXT,    /* #!NGINXNMS!#{...}#!NGINXNME!# */
    MSG_ENC_PB,      /* OutgoingMessagesResponse.messages field (protobuf) */
    MSG_ENC_JSONRPC, /* {"jsonrpc":"2.0","method":"incoming.message",...} */
    MSG_ENC_SSE,     /* id: / data: event block */
    MSG_ENC_COUNT
};

enum msg_sender { MSG_SENDER_UNKNOWN = 0, MSG_SENDER_CLIENT = 1, MSG_SENDER_BACKEND = 2 };

struct msg {
    unsigned refs;
    uint64_t seq;              /* publish order, for de-duplication within one fan-out */
    char mid[MSG_MID_LEN + 1]; /* 26 digits: start time + counter */
    uint32_t created;          /* unix seconds */
    uint32_t expiry;           /* seconds the message is kept */
    uint16_t tag;              /* push-stream tag: sequence within `created` */
    uint8_t sender_type;
    uint8_t sender_id_len;
    uint8_t sender_id[16];
    char *channel;            /* first target channel, for text frames */
    char *user_params;        /* V5: JSON object {userId: {...}} or NULL */
    char *dictionary;         /* V5: JSON object or NULL */
    void *user_params_parsed; /* json_t of user_params, parsed once on first use */
    uint8_t *body;
    size_t body_len;
    struct {
        uint8_t *p;
        size_t len;
    } enc[MSG_ENC_COUNT];
};

/* Creates a message with one reference held by the caller. Copies body. */
struct msg *msg_new(const char *mid, uint64_t seq, uint32_t created, uint16_t tag, uint32_t expiry,
                    const void *body, size_t body_len);
/* Sets the first target channel (copies). */
void msg_set_channel(struct msg *m, const char *channel);
void msg_set_sender(struct msg *m, uint8_t type, const uint8_t *id, size_t id_len);
static inline struct msg *msg_ref(struct msg *m)
{
    m->refs++;
    return m;
}
void msg_unref(struct msg *m);
/* The message encoded for one wire format, built on first use and kept. */
const uint8_t *msg_encoding(struct msg *m, enum msg_enc e, size_t *len);
/* V5: encodes the JSON-RPC form for one recipient user (with that user's
 * user_params merged); returns a malloc'ed string, or NULL when the cached
 * form applies. */
char *msg_jsonrpc_for_user(struct msg *m, const char *user_id, size_t *len);
/* RFC 1123 date of a unix time into out[30]. */
void msg_http_date(uint32_t t, char out[30]);
/* Parses an RFC 1123 date; returns false when it is not one. */
bool msg_parse_http_date(const char *s, size_t len, uint32_t *out);

#endif
