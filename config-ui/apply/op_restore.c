/* restore: the files of a decrypted backup (backup.h names). Every file is
 * checked before any is written: the settings and secrets by the library's
 * parsers, the certificate by cert_check, the keys by their format. */
#include "apply.h"

#include "backup.h"
#include "certcheck.h"
#include "fileio.h"
#include "root.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HOST_KEY_MAX (16 * 1024)

static const char *const known[] = {BK_SETTINGS,    BK_SECRETS,   BK_TLS_CERT,
                                    BK_TLS_KEY,     BK_TLS_CHAIN, BK_AUTHORIZED_KEYS,
                                    BK_SSH_ED25519, BK_SSH_ECDSA, NULL};

static bool is_text(const char *v, size_t len)
{
    return strlen(v) == len;
}

void op_restore(struct apply *a, const struct request *r, struct result *res)
{
    struct settings st, cur_st;
    struct secrets sec, cur_sec;
    struct cert_report rep;
    char err[SETTING_ERR_MAX];
    enum setting_id bad;
    size_t slen, klen, clen, chlen = 0, aklen, len;
    const char *s, *k, *c, *ch, *ak;

    for (size_t i = 0; i < r->nargs; i++) {
        bool ok = false;
        for (int j = 0; known[j]; j++)
            ok |= strcmp(r->args[i].key, known[j]) == 0;
        if (!ok) {
            refuse(res, -1, "Restore: the backup holds an unknown file %.64s", r->args[i].key);
            return;
        }
    }
    if (state_load(&cur_st, &cur_sec, res) != 0)
        return;
    st = cur_st;
    sec = cur_sec;
    s = request_get(r, BK_SETTINGS, &slen);
    if (s && (settings_parse(&st, s, slen, err, sizeof(err)) != 0 ||
              settings_check(&st, &bad, err, sizeof(err)) != 0)) {
        refuse(res, -1, "Restore: %s in the backup: %s", BK_SETTINGS, err);
        return;
    }
    k = request_get(r, BK_SECRETS, &klen);
    if (k && secrets_parse(&sec, k, klen, err, sizeof(err)) != 0) {
        refuse(res, -1, "Restore: %s in the backup: %s", BK_SECRETS, err);
        return;
    }
    if (k && secrets_check_key(sec.signature_key, err, sizeof(err)) != 0) {
        refuse(res, -1, "Restore: %s in the backup: signature-key: %s", BK_SECRETS, err);
        return;
    }
    c = request_get(r, BK_TLS_CERT, &clen);
    ch = request_get(r, BK_TLS_CHAIN, &chlen);
    const char *tkey = request_get(r, BK_TLS_KEY, &len);
    if ((c == NULL) != (tkey == NULL)) {
        refuse(res, -1,
               "Restore: the backup holds a certificate without its key, or a key "
               "without its certificate");
        return;
    }
    if (c) {
        if (!is_text(c, clen) || !is_text(tkey, len) || (ch && !is_text(ch, chlen)) ||
            clen > CERT_PEM_MAX || len > CERT_PEM_MAX || chlen > CERT_PEM_MAX) {
            refuse(res, -1, "Restore: the backup's TLS files are not PEM text");
            return;
        }
        memset(&rep, 0, sizeof(rep));
        cert_check(c, tkey, ch ? ch : "",
                   st.v[S_SITE_PUBLIC_NAME][0] ? st.v[S_SITE_PUBLIC_NAME] : NULL, a->now, &rep);
        if (!rep.ok) {
            refuse(res, -1, "Restore: the backup's certificate: %s", rep.error);
            return;
        }
    }
    ak = request_get(r, BK_AUTHORIZED_KEYS, &aklen);
    if (ak && ssh_keys_check(ak, aklen, err, sizeof(err)) != 0) {
        refuse(res, -1, "Restore: %s in the backup: %s", BK_AUTHORIZED_KEYS, err);
        return;
    }
    const char *hk[2] = {BK_SSH_ED25519, BK_SSH_ECDSA};
    for (int i = 0; i < 2; i++) {
        const char *v = request_get(r, hk[i], &len);
        if (v && (len == 0 || len > HOST_KEY_MAX)) {
            refuse(res, -1, "Restore: %s in the backup is empty or too large", hk[i]);
            return;
        }
    }

    /* everything checked: write */
    for (int i = 0; i < 2; i++) {
        const char *v = request_get(r, hk[i], &len);
        char rel[128], path[PATH_MAX];
        if (v == NULL)
            continue;
        snprintf(rel, sizeof(rel), "data/%s", hk[i]);
        root_path(path, sizeof(path), rel);
        if (file_write_atomic(path, v, len, 0600, err, sizeof(err)) != 0) {
            step(res, false, "SSH host key", "%s", err);
            return;
        }
        step(res, true, "SSH host key", "%s (dropbear uses it after a restart)", hk[i]);
    }
    if (ak && ssh_keys_write(ak, aklen, res) != 0)
        return;
    if (ak)
        step(res, true, "authorized keys", "restored");
    if (c) {
        if (cert_install(c, tkey, ch ? ch : "", res) != 0)
            return;
        a->later |= LATER_LIGHTTPD;
    }
    if (k && sec.admin_password_hash[0] &&
        strcmp(sec.admin_password_hash, cur_sec.admin_password_hash) != 0 &&
        state_write_shadow(sec.admin_password_hash, a->now, res) != 0)
        return;
    if (state_commit(a, &st, &sec, s != NULL, k != NULL, res) != 0)
        return;
    if (c && !(k || s)) /* the certificate alone: pullboxd was not reloaded by a render */
        service_reload_pullboxd(res);
    if (res->ok)
        snprintf(res->message, sizeof(res->message), "The backup is restored.");
}
