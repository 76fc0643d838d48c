/* Checks of an uploaded certificate before it is used: it parses, the key
 * matches it, the chain leads from it to its last certificate (each one
 * signed by the next), and warnings for expiry and for names that do not
 * cover the public name. */
#ifndef PULLBOX_CFG_CERTCHECK_H
#define PULLBOX_CFG_CERTCHECK_H

#include <stdbool.h>
#include <stddef.h>

#define CERT_PEM_MAX (64 * 1024)

struct cert_report {
    bool ok;              /* usable: no error */
    char error[256];      /* the first error, in words ("the key does not match the certificate") */
    char warnings[3][256]; /* "expires in 12 days (2026-12-11)", "does not cover push.example.com" */
    size_t nwarnings;
    char subject[256];
    char issuer[256];
    char names[512];      /* the DNS/IP subject alternative names, space-separated */
    char not_before[32];  /* "2026-11-29 03:00 UTC" */
    char not_after[32];   /* "2027-11-29 03:00 UTC" */
    char fingerprint[96]; /* SHA-256 of the DER, "AB:12:..." as browsers show it */
    long long not_after_unix;
    bool self_signed;
};

/* key_pem may be NULL (checks the certificate and chain only); chain_pem may
 * be NULL or "". public_name may be NULL. */
void cert_check(const char *cert_pem, const char *key_pem, const char *chain_pem,
                const char *public_name, long long now, struct cert_report *rep);

/* Reports on the installed certificate and its chain from the copy the
 * apply service publishes (PATH_TLS_PUBLIC): the callers (the wizard, the
 * console) may not read the key, whose match was checked at install. */
void cert_check_installed(const char *public_name, long long now, struct cert_report *rep);

#endif
