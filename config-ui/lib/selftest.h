/* The self-test: the Bitrix site checker's round trip (docs/protocol.md §7.8)
 * against the appliance's own ports, a WebSocket delivery, and the TLS port,
 * each step reported in words an admin understands. */
#ifndef PULLBOX_CFG_SELFTEST_H
#define PULLBOX_CFG_SELFTEST_H

#include <stdbool.h>
#include <stddef.h>

#define SELFTEST_MAX_STEPS 8

struct selftest_step {
    char what[96];    /* "Long polling on port 8893 receives a published message" */
    bool ok;
    char detail[256]; /* "delivered in 4 ms", "no answer on 127.0.0.1:8895: connection
                         refused - is pullboxd running? (Status page)" */
};

struct selftest_opts {
    const char *host;          /* "127.0.0.1" */
    int subscribe_port;        /* 8893 */
    int subscribe_tls_port;    /* 8894, 0 = skip */
    int publish_port;          /* 8895 */
    const char *signature_key; /* to sign the test channel */
    const char *signature_algo; /* "sha1" | "sha256" */
    double timeout;            /* per step, seconds */
};

/* Runs every step (a failed step does not stop the others). Returns the
 * number of steps; all ok if every steps[i].ok. */
size_t selftest_run(const struct selftest_opts *o, struct selftest_step *steps, size_t max);

/* One HTTP/1.0 request to host:port (plain TCP, poll deadlines), for the
 * status page's /metrics as well: body may be NULL. Returns 0 with *out the
 * answer's body (malloc'ed, NUL-terminated, at most 64 KiB) and *status,
 * or -1 with err in the self-test's words ("no answer on 127.0.0.1:8895:
 * connection refused - is pullboxd running? (Status page)"). */
int selftest_http(const char *host, int port, const char *method, const char *target,
                  const char *body, double timeout, char **out, size_t *outlen, int *status,
                  char *err, size_t errlen);

#endif
