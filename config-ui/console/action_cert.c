/* Menu item 4: the TLS certificate pullboxd (8894) and the wizard (443)
 * use: show it, make a new self-signed one, or import one pasted as PEM.
 * A pasted certificate is checked here with the wizard's checks
 * (cert_check) before it is sent, and again by the apply service. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "certcheck.h"
#include "console.h"
#include "settings.h"
#include "spool.h"

static void print_report(const struct cert_report *r)
{
    if (!r->ok) {
        printf("Problem: %s\n", r->error);
        if (!r->subject[0])
            return;
    }
    printf("Subject:   %s\nIssuer:    %s%s\nNames:     %s\nValid:     from %s\nExpires:   %s\n"
           "SHA-256:   %s\n",
           r->subject, r->issuer, r->self_signed ? " (self-signed)" : "",
           r->names[0] ? r->names : "(none)", r->not_before, r->not_after, r->fingerprint);
    for (size_t i = 0; i < r->nwarnings && i < 3; i++)
        printf("Warning:   %s\n", r->warnings[i]);
}

/* The first PEM block of text goes to cert, the rest (if any) is the chain. */
static void split_chain(char *text, char **chain)
{
    static const char end[] = "-----END CERTIFICATE-----";
    char *p = strstr(text, end);
    *chain = NULL;
    if (!p)
        return;
    p += sizeof end - 1;
    while (*p == '\r' || *p == '\n')
        p++;
    if (*p) {
        *chain = strdup(p);
        *p = '\0';
    }
}

static void import_pem(const char *public_name)
{
    char *cert = NULL, *key = NULL, *chain = NULL;
    static struct cert_report rep;
    static struct request r;
    printf("Paste the certificate, then its chain certificates (if any), then a line END:\n");
    if (con_read_paste(NULL, CERT_PEM_MAX, &cert) < 0)
        goto out;
    split_chain(cert, &chain);
    printf("Paste the private key (it ends at its -----END ... KEY----- line):\n");
    if (con_read_paste("-----END", CERT_PEM_MAX, &key) < 0)
        goto out;
    memset(&rep, 0, sizeof rep);
    cert_check(cert, key, chain, public_name, (long long)time(NULL), &rep);
    print_report(&rep);
    if (!rep.ok) {
        printf("Nothing was changed.\n");
        goto out;
    }
    if (!con_confirm("Install this certificate (pullboxd and the wizard restart)?")) {
        printf("Nothing was changed.\n");
        goto out;
    }
    request_init(&r, "cert-upload");
    /* no chain: the argument is left out (an empty one is refused) */
    if (request_add(&r, "certificate", cert, strlen(cert)) < 0 ||
        request_add(&r, "private-key", key, strlen(key)) < 0 ||
        (chain && request_add(&r, "chain", chain, strlen(chain)) < 0)) {
        printf("Not done: the request is too large.\n");
        request_free(&r);
        goto out;
    }
    con_send(&r, NULL);
out:
    free(cert);
    free(chain);
    if (key) {
        memset(key, 0, strlen(key)); /* the private key stays in memory no longer than needed */
        free(key);
    }
}

void action_cert(void)
{
    static struct settings st;
    static struct cert_report rep;
    int choice;
    if (!con_load(&st, NULL))
        return;
    memset(&rep, 0, sizeof rep);
    cert_check_installed(st.v[S_SITE_PUBLIC_NAME], (long long)time(NULL), &rep);
    print_report(&rep);
    printf("\n  1  Make a new self-signed certificate\n"
           "  2  Import a certificate and key (paste PEM)\n\n");
    if (!con_ask_number("Choose (1-2, q to go back): ", 2, &choice))
        return;
    if (choice == 1) {
        if (con_confirm("Replace the certificate with a new self-signed one?"))
            con_send_op("cert-self-signed");
        else
            printf("Nothing was changed.\n");
        return;
    }
    import_pem(st.v[S_SITE_PUBLIC_NAME]);
}
