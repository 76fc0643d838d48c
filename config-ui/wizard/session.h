/* Wizard sessions: a random id in a cookie (Secure, HttpOnly,
 * SameSite=Strict), stored on disk only by its SHA-256 under PATH_STATE, so
 * reading the state folder does not give a usable cookie. A session exists
 * before login too (it carries the CSRF token of the claim and login forms);
 * login and claim replace it with a new one (no fixation). Sessions expire
 * after SESSION_IDLE_SECONDS without a request. */
#ifndef PULLBOX_WIZARD_SESSION_H
#define PULLBOX_WIZARD_SESSION_H

#include <stdbool.h>
#include <stddef.h>

#define SESSION_COOKIE "__Host-pullbox"
#define SESSION_IDLE_SECONDS (30 * 60)
#define SESSION_ID_HEX 64

struct session {
    char id[SESSION_ID_HEX + 1];   /* the cookie value; never written to disk */
    char hash[SESSION_ID_HEX + 1]; /* token_sha256_hex(id): the file name */
    char csrf[SESSION_ID_HEX + 1]; /* the form token of every POST */
    bool authed;                   /* the admin logged in (or claimed) */
    long long seen;                /* last request, unix time */
    long long net_confirm_until;   /* a network change awaits confirmation until then */
    bool set_cookie;               /* new this request: the cookie must be sent */
};

/* Finds the session named by the Cookie header. true if one exists and has
 * not expired (an expired one is removed). */
bool session_load(const char *cookie_header, long long now, struct session *s);

/* A new session (new id and CSRF token), written to disk. 0 or -1. */
int session_create(struct session *s, bool authed, long long now);

/* Writes s back (seen = now). 0 or -1. */
int session_save(struct session *s, long long now);

/* Removes s from disk, and any files staged for it. */
void session_destroy(struct session *s);

/* The Set-Cookie value for s, or one that clears the cookie (s NULL). */
void session_cookie(const struct session *s, char *out, size_t outlen);

/* Constant-time check of a form's token against the session's. */
bool session_csrf_ok(const struct session *s, const char *token);

/* <state>/<hash>.<what>: a file staged for this session between a check
 * and its confirmation (an uploaded certificate, an opened backup). 0 or -1. */
int session_stage_path(const struct session *s, const char *what, char *out, size_t outlen);

/* Removes every session idle for longer than SESSION_IDLE_SECONDS. */
void session_purge(long long now);

#endif
