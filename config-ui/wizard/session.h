/* Wizard sessions: a random id in a cookie (Secure, HttpOnly,
 * SameSite=Strict), stored only by its SHA-256 under PATH_STATE, so reading
 * the state folder does not give a usable cookie. A session exists only
 * once the admin has logged in or claimed: the login and claim forms carry
 * a stateless token instead (formtoken.h), so a visitor costs no file.
 *
 * A session ends when the admin logs out, after SESSION_IDLE_SECONDS
 * without a request, when SESSION_MAX newer sessions exist (the oldest
 * goes), and when the admin password changes (anywhere: the console too):
 * each session holds a tag of the password hash it was opened with and is
 * void once that differs. A request saves its session back only into the
 * file that still exists, so a request that was running while the admin
 * logged out cannot bring the session back. */
#ifndef PULLBOX_WIZARD_SESSION_H
#define PULLBOX_WIZARD_SESSION_H

#include "formtoken.h"

#include <stdbool.h>
#include <stddef.h>

#define SESSION_COOKIE "__Host-pullbox"
#define SESSION_IDLE_SECONDS (30 * 60)
#define SESSION_ID_HEX 64
#define SESSION_MAX 8 /* live sessions: one admin, a few browsers */

struct session {
    char id[SESSION_ID_HEX + 1];    /* the cookie value; never written to disk */
    char hash[SESSION_ID_HEX + 1];  /* token_sha256_hex(id): the file name; "" = no session */
    char csrf[FORMTOKEN_HEX + 1];   /* the form token of every POST (without a session: the
                                       stateless token of the login or claim form) */
    char pwtag[SESSION_ID_HEX + 1]; /* session_password_tag() when it was opened */
    bool authed;                    /* a session is only ever made by a login or claim */
    long long seen;                 /* last request, unix time */
    long long net_confirm_until;    /* a network change awaits confirmation until then */
    bool set_cookie;                /* new this request: the cookie must be sent */
};

/* The tag of an admin password hash (SHA-256 of it, hex) into out. An
 * empty hash (unclaimed, unreadable secrets) gives "", which no session
 * matches. */
void session_password_tag(const char *admin_hash, char out[SESSION_ID_HEX + 1]);

/* Finds the session named by the Cookie header. true if one exists, has not
 * expired and was opened with the password whose tag is pwtag (otherwise it
 * is removed). */
bool session_load(const char *cookie_header, const char *pwtag, long long now, struct session *s);

/* A new session (new id and CSRF token) for the password tagged pwtag,
 * written to disk; expired sessions are removed, and the oldest ones while
 * SESSION_MAX are live. 0 or -1. */
int session_create(struct session *s, const char *pwtag, long long now);

/* Writes s back (seen = now) into its file, which is never made again: 0,
 * or -1 when the session has ended meanwhile (logout) or on an error. */
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
