/* JWT verification for V5 `token` subscriptions (docs/protocol.md §4.6): a
 * compact JWS signed by PHP's Bitrix\Main\Web\JWT with the signature key
 * (HMAC key = the key verbatim). Only HS256 and HS512 are accepted; "none",
 * RS*, ES* and everything else are refused.
 *
 * Nothing in this module logs: tokens, keys and signatures must never reach
 * a log. */
#ifndef PULLBOX_JWT_H
#define PULLBOX_JWT_H

#include "first.h"

#include "sign.h"

#define JWT_MAX_LEN 8192 /* longer tokens are refused before any decoding */
#define JWT_LEEWAY 60    /* seconds of clock skew allowed between PHP and us */

/* Claims of a verified token; every pointer is owned by the struct. */
struct jwt_claims {
    char *sub;   /* user id as a string (the claim may be a number); NULL if absent */
    char **chan; /* channel ids from "chan" (comma-separated string or array), as signed */
    size_t n_chan;
    int64_t exp, iat; /* 0 when absent */
    char *iss;        /* host id; NULL if absent */
};

enum {
    JWT_OK = 0,
    JWT_MALFORMED = -1,
    JWT_BAD_ALG = -2,
    JWT_BAD_SIGNATURE = -3,
    JWT_EXPIRED = -4,
    JWT_NOT_YET = -5,
};

/* Verifies the compact JWS token (len bytes, no NUL needed, at most
 * JWT_MAX_LEN) against every non-empty key of the ring: base64url without
 * padding, header alg HS256 or HS512 (typ "JWT" if present, no "crit"),
 * then exp (if present) > now - JWT_LEEWAY and nbf/iat (if present) <= now
 * + JWT_LEEWAY. The signature is checked before the payload is parsed.
 * Returns JWT_OK and fills *out (free with jwt_claims_free), or a negative
 * JWT_* code with *out zeroed. Borrows kr and token. */
int jwt_verify(const struct sign_keyring *kr, const char *token, size_t len, int64_t now,
               struct jwt_claims *out);

/* Frees what jwt_verify() stored and zeroes *c; NULL is a no-op. */
void jwt_claims_free(struct jwt_claims *c);

/* For tests and the setup tools: an HS256 token whose payload is
 * claims_json verbatim. Returns a NUL-terminated string the caller frees,
 * or NULL if claims_json is not a JSON object. */
char *jwt_sign_hs256(const char *key, size_t key_len, const char *claims_json);

#endif
