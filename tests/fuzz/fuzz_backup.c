/* A backup being restored, after decryption: the plaintext is a request in
 * the spool encoding (request_decode) whose values are the appliance's
 * files, which the apply service checks before writing any (as op_restore
 * does: settings, secrets, signing key, certificate and key). The outer
 * format (scrypt + AES-GCM) is left out: scrypt costs tens of milliseconds
 * per try, and a wrong tag stops every input there.
 * Input: the plaintext.
 * Properties: a request that decodes encodes and decodes again to the same
 * operation and arguments; the settings and secrets files inside parse and
 * round-trip like the files on disk; certificate checks always answer with
 * a verdict (and a reason when refused). */
/* fuzz-link: config-ui */
#include "backup.h"
#include "certcheck.h"
#include "secrets.h"
#include "settings.h"
#include "spool.h"

#include "fuzz.h"

#include <string.h>

static void check_request_round_trip(const struct request *r)
{
    char *text, err[256];
    size_t len;
    struct request again;
    FUZZ_CHECK(request_encode(r, &text, &len) == 0);
    FUZZ_CHECK(request_decode(text, len, &again, err, sizeof err) == 0);
    FUZZ_CHECK(strcmp(again.op, r->op) == 0 && again.nargs == r->nargs);
    for (size_t i = 0; i < r->nargs; i++) {
        FUZZ_CHECK(strcmp(again.args[i].key, r->args[i].key) == 0);
        FUZZ_CHECK(again.args[i].len == r->args[i].len &&
                   memcmp(again.args[i].value, r->args[i].value, r->args[i].len) == 0);
    }
    request_free(&again);
    free(text);
}

static void check_secrets(const char *v, size_t len)
{
    struct secrets a, b;
    char err[SETTING_ERR_MAX], text[2048];
    if (secrets_parse(&a, v, len, err, sizeof err) != 0) {
        FUZZ_CHECK(err[0] != 0);
        return;
    }
    /* the file as secrets_save writes it */
    int n = snprintf(text, sizeof text,
                     "signature-key = %s\nsignature-key-previous = %s\n"
                     "signature-key-previous-until = %lld\nadmin-password-hash = %s\n"
                     "redis-password = %s\ncluster-hub-password = %s\n",
                     a.signature_key, a.signature_key_previous, a.previous_until,
                     a.admin_password_hash, a.redis_password, a.hub_password);
    FUZZ_CHECK(n > 0 && (size_t)n < sizeof text);
    FUZZ_CHECK(secrets_parse(&b, text, (size_t)n, err, sizeof err) == 0);
    FUZZ_CHECK(memcmp(&a, &b, sizeof a) == 0 ||
               (strcmp(a.signature_key, b.signature_key) == 0 &&
                strcmp(a.signature_key_previous, b.signature_key_previous) == 0 &&
                a.previous_until == b.previous_until &&
                strcmp(a.admin_password_hash, b.admin_password_hash) == 0 &&
                strcmp(a.redis_password, b.redis_password) == 0 &&
                strcmp(a.hub_password, b.hub_password) == 0));
    secrets_check_key(a.signature_key, err, sizeof err);
}

static void check_settings(const char *v, size_t len)
{
    static struct settings a, b;
    char err[SETTING_ERR_MAX], *text;
    size_t tlen;
    enum setting_id bad;
    if (settings_parse(&a, v, len, err, sizeof err) != 0)
        return;
    FUZZ_CHECK(settings_encode(&a, &text, &tlen) == 0);
    FUZZ_CHECK(settings_parse(&b, text, tlen, err, sizeof err) == 0 && settings_equal(&a, &b));
    free(text);
    if (settings_check(&a, &bad, err, sizeof err) != 0)
        FUZZ_CHECK(bad < S__COUNT && err[0] != 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct request r;
    char err[256];
    if (size > BACKUP_MAX_BYTES)
        return 0;
    char *plain = malloc(size + 1);
    memcpy(plain, data, size);
    plain[size] = 0; /* backup_open terminates the plaintext too */
    memset(&r, 0, sizeof r);
    err[0] = 0;
    if (request_decode(plain, size, &r, err, sizeof err) != 0) {
        FUZZ_CHECK(err[0] != 0);
        free(plain);
        return 0;
    }
    FUZZ_CHECK(r.nargs <= REQUEST_MAX_ARGS);
    check_request_round_trip(&r);
    size_t len, klen, chlen = 0;
    const char *v;
    if ((v = request_get(&r, BK_SETTINGS, &len)))
        check_settings(v, len);
    if ((v = request_get(&r, BK_SECRETS, &len)))
        check_secrets(v, len);
    const char *cert = request_get(&r, BK_TLS_CERT, &len);
    const char *key = request_get(&r, BK_TLS_KEY, &klen);
    const char *chain = request_get(&r, BK_TLS_CHAIN, &chlen);
    if (cert && key && strlen(cert) == len && strlen(key) == klen &&
        (!chain || strlen(chain) == chlen) && len <= CERT_PEM_MAX && klen <= CERT_PEM_MAX) {
        struct cert_report rep;
        memset(&rep, 0, sizeof rep);
        cert_check(cert, key, chain ? chain : "", "pullbox.example.com", 1765000000, &rep);
        FUZZ_CHECK(rep.ok || rep.error[0] != 0);
    }
    request_free(&r);
    free(plain);
    return 0;
}
