/* Channel signatures (docs/protocol.md §3): hex(HMAC_<algo>(signature_key, value)),
 * where Bitrix's Signer uses the key verbatim and bin2hex output. The
 * server only ever verifies; sign_hmac_* also serve the tests and the
 * setup tools.
 *
 * Nothing in this module logs: keys and signatures must never reach a log. */
#ifndef PULLBOX_SIGN_H
#define PULLBOX_SIGN_H

#include "first.h"

enum sign_algo { SIGN_SHA1, SIGN_SHA256 };

#define SIGN_MAX_KEYS 2 /* current key + previous key during a rotation grace period */

/* Keys are borrowed by the ring's owner (the config); a key of length 0
 * never verifies anything, because an empty HMAC key is public. */
struct sign_keyring {
    enum sign_algo algo;
    size_t n_keys;
    char *keys[SIGN_MAX_KEYS];
    size_t key_len[SIGN_MAX_KEYS];
};

/* Hex HMAC of data with key: out gets 40 (sha1) or 64 (sha256) lower-case
 * hex chars + NUL; out is "" if libcrypto fails (which then verifies
 * nothing). Borrows everything. */
void sign_hmac_hex(enum sign_algo algo, const char *key, size_t key_len, const void *data,
                   size_t len, char out[129]);
/* Raw HMAC bytes into out; returns their count (20 or 32), 0 on a
 * libcrypto failure. */
size_t sign_hmac_raw(enum sign_algo algo, const char *key, size_t key_len, const void *data,
                     size_t len, uint8_t out[64]);

/* True when hex signature sig (either case, exactly the digest length)
 * matches HMAC(value) under any non-empty key of the ring. The comparison
 * is constant time per key and every key is tried. */
bool sign_check_hex(const struct sign_keyring *kr, const char *value, size_t value_len,
                    const char *sig, size_t sig_len);
/* Same with the raw signature bytes (protobuf Receiver.signature). */
bool sign_check_raw(const struct sign_keyring *kr, const char *value, size_t value_len,
                    const uint8_t *sig, size_t sig_len);

#define CHANNEL_ID_LEN 32

/* One parsed subscribe element. Ids are NUL-terminated lower-case hex. */
struct channel_ref {
    char priv[CHANNEL_ID_LEN + 1];
    char pub[CHANNEL_ID_LEN + 1];
    bool has_pub;
    /* The signature was present and verified. On trusted paths (no
     * signature required) callers must still look at this before they
     * let pub act as an identity. */
    bool signed_ok;
};

enum { SIGN_OK = 0, SIGN_BAD_FORMAT = -1, SIGN_BAD_SIGNATURE = -2, SIGN_TOO_MANY = -3 };

/* Parses one subscribe element of len bytes (no NUL needed):
 *   "<id>[.<sig>]"          sig over id
 *   "<priv>:<pub>[.<sig>]"  sig over "priv:pub" (lower case)
 * Ids are 32 hex chars (upper case accepted, stored lower case); sig is
 * 40..128 hex chars, either case.
 * Returns SIGN_OK, SIGN_BAD_FORMAT (syntax) or SIGN_BAD_SIGNATURE (the
 * signature is missing, has another length than the ring's digest, or does
 * not match). With require_signature false (trusted publish paths) a
 * missing or wrong signature is accepted; out->signed_ok tells which.
 * out is filled only on SIGN_OK. */
int sign_parse_channel(const struct sign_keyring *kr, const char *s, size_t len,
                       bool require_signature, struct channel_ref *out);

/* Splits a decoded CHANNEL_ID value on '/' and parses each element (empty
 * elements skipped) into out[0..max). More than max elements gives
 * SIGN_TOO_MANY. Any bad element rejects the whole list: the first error
 * in order is returned and *n is 0; on SIGN_OK *n is the count (may be 0). */
int sign_parse_channel_list(const struct sign_keyring *kr, const char *s, size_t len,
                            bool require_signature, struct channel_ref *out, size_t max, size_t *n);

/* A public channel reference "<pub>.<hex hmac('public:' + pub)>", as
 * clients use to address other users. The signature is always required.
 * Returns SIGN_OK (pub_out = lower-case id + NUL), SIGN_BAD_FORMAT or
 * SIGN_BAD_SIGNATURE; pub_out is untouched on error. */
int sign_parse_public_ref(const struct sign_keyring *kr, const char *s, size_t len,
                          char pub_out[CHANNEL_ID_LEN + 1]);

/* Raw form (protobuf Receiver): 16-byte id, raw signature bytes of
 * hmac('public:' + lower-case hex(id)). */
bool sign_check_public_raw(const struct sign_keyring *kr, const uint8_t id[16], const uint8_t *sig,
                           size_t sig_len);

#endif
