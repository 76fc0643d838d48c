/* The console's only way to change anything: one request to the root-owned
 * apply service through the spool, and its answer shown step by step. */
#include <stdio.h>
#include <string.h>

#include "console.h"
#include "settings.h"
#include "spool.h"

static void print_result(const struct result *res)
{
    for (size_t i = 0; i < res->nsteps; i++)
        printf("  [%s] %s%s%s\n", res->steps[i].ok ? " ok " : "FAIL", res->steps[i].what,
               res->steps[i].detail[0] ? ": " : "", res->steps[i].detail);
    if (res->message[0])
        printf("%s%s\n", res->ok ? "" : "Not done: ", res->message);
    else if (!res->ok)
        printf("Not done.\n");
}

bool con_send(struct request *r, struct result *out)
{
    return con_send_within(r, CON_SPOOL_TIMEOUT, out);
}

bool con_send_within(struct request *r, double timeout, struct result *out)
{
    static struct result res; /* about 6 KiB: kept off the stack */
    char err[512];
    memset(&res, 0, sizeof res);
    printf("Applying (%s)...\n", r->op);
    fflush(stdout);
    int rc = spool_call(r, timeout, &res, err, sizeof err);
    request_free(r);
    if (rc < 0) {
        printf("Not done: %s\n", err);
        if (out)
            memset(out, 0, sizeof *out);
        return false;
    }
    print_result(&res);
    if (out)
        *out = res;
    return res.ok;
}

bool con_send_op(const char *op)
{
    static struct request r;
    request_init(&r, op);
    return con_send(&r, NULL);
}

bool con_send_arg(const char *op, const char *key, const char *value)
{
    static struct request r;
    request_init(&r, op);
    if (request_add(&r, key, value, strlen(value)) < 0) {
        printf("Not done: the request is too large.\n");
        request_free(&r);
        return false;
    }
    return con_send(&r, NULL);
}

bool con_send_settings_secret(const struct settings *st, const char *key, const char *value,
                              struct result *res)
{
    static struct request r;
    request_init(&r, "settings");
    for (int i = 0; i < S__COUNT; i++) {
        if (request_add(&r, setting_defs[i].key, st->v[i], strlen(st->v[i])) < 0) {
            printf("Not done: the request is too large.\n");
            request_free(&r);
            return false;
        }
    }
    if (key && value && value[0] && request_add(&r, key, value, strlen(value)) < 0) {
        printf("Not done: the request is too large.\n");
        request_free(&r);
        return false;
    }
    return con_send(&r, res);
}

bool con_send_settings(const struct settings *st, struct result *res)
{
    return con_send_settings_secret(st, NULL, NULL, res);
}
