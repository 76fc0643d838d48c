/* cert-upload and cert-self-signed: the TLS certificate pullboxd (8894) and
 * lighttpd (443) use. pullboxd reloads it on HUP; lighttpd restarts after
 * the answer is written, since the wizard runs under it. */
#include "apply.h"

#include "certcheck.h"
#include "fileio.h"
#include "root.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void strip_newlines(char *s)
{
    size_t n = strlen(s);

    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
}

/* The TLS folder is root:pullbox 0750 and its files root:pullbox 0640:
 * pullboxd (group pullbox) reads them, only root writes there. On a test
 * tree the group stays as it was (-1). */
static long tls_gid(void)
{
    struct group *g = root_is_system() ? getgrnam("pullbox") : NULL;

    return g ? (long)g->gr_gid : -1;
}

int cert_publish(char *err, size_t errlen)
{
    char path[PATH_MAX], *data = NULL;
    long n, owner = root_is_system() ? 0 : -1;
    int rc;

    root_path(path, sizeof(path), PATH_TLS_CERT);
    /* the certificate and a chain, each up to CERT_PEM_MAX */
    n = file_read_all(path, 2 * CERT_PEM_MAX + 2, &data, err, errlen);
    root_path(path, sizeof(path), PATH_TLS_PUBLIC);
    if (n < 0 && errno == ENOENT) {
        if (unlink(path) != 0 && errno != ENOENT) {
            snprintf(err, errlen, "cannot remove %.400s: %s", path, strerror(errno));
            return -1;
        }
        return 0;
    }
    if (n < 0)
        return -1;
    rc = file_write_atomic_owned(path, data, (size_t)n, 0644, owner, owner, err, errlen);
    free(data);
    return rc;
}

int cert_install(const char *cert, const char *key, const char *chain, struct result *res)
{
    char path[PATH_MAX], err[512], *full, *c;
    size_t cap = strlen(cert) + strlen(chain) + 4;
    int rc = -1;

    full = malloc(cap);
    c = strdup(cert);
    if (full == NULL || c == NULL)
        abort();
    strip_newlines(c);
    /* cert.pem is the certificate followed by its chain (what pullboxd's
     * tls-certificate and lighttpd's ssl.pemfile take); chain.pem keeps the
     * chain alone for the backup and the checks */
    snprintf(full, cap, "%s\n%s", c, chain);
    root_path(path, sizeof(path), PATH_TLS_KEY);
    if (file_write_atomic_owned(path, key, strlen(key), 0640, 0, tls_gid(), err, sizeof(err)) != 0)
        goto out;
    root_path(path, sizeof(path), PATH_TLS_CERT);
    if (file_write_atomic_owned(path, full, strlen(full), 0640, 0, tls_gid(), err, sizeof(err)) !=
        0)
        goto out;
    root_path(path, sizeof(path), PATH_TLS_CHAIN);
    if (chain[0] != '\0') {
        if (file_write_atomic_owned(path, chain, strlen(chain), 0640, 0, tls_gid(), err,
                                    sizeof(err)) != 0)
            goto out;
    } else if (unlink(path) != 0 && errno != ENOENT) {
        snprintf(err, sizeof(err), "cannot remove %.400s: %s", path, strerror(errno));
        goto out;
    }
    rc = cert_publish(err, sizeof(err));
out:
    if (rc == 0)
        step(res, true, "certificate", "installed in %s", PATH_TLS_DIR);
    else
        step(res, false, "certificate", "%s", err);
    free(full);
    free(c);
    return rc;
}

static const char *public_name(void)
{
    static struct settings st;
    char path[PATH_MAX], err[256];

    root_path(path, sizeof(path), PATH_SETTINGS);
    if (settings_load(&st, path, err, sizeof(err)) != 0)
        return NULL;
    return st.v[S_SITE_PUBLIC_NAME][0] ? st.v[S_SITE_PUBLIC_NAME] : NULL;
}

static const char *pem_arg(const struct request *r, const char *key, bool required,
                           struct result *res)
{
    size_t len;
    const char *v = request_get(r, key, &len);

    if (v == NULL && !required)
        return "";
    if (v == NULL || len == 0) {
        refuse(res, -1, "%s: a PEM file is needed", key);
        return NULL;
    }
    if (len > CERT_PEM_MAX || strlen(v) != len) {
        refuse(res, -1, "%s: not a PEM file (at most %d bytes of text)", key, CERT_PEM_MAX);
        return NULL;
    }
    return v;
}

void op_cert_upload(struct apply *a, const struct request *r, struct result *res)
{
    struct cert_report rep;
    const char *cert, *key, *chain;

    if ((cert = pem_arg(r, "certificate", true, res)) == NULL ||
        (key = pem_arg(r, "private-key", true, res)) == NULL ||
        (chain = pem_arg(r, "chain", false, res)) == NULL)
        return;
    memset(&rep, 0, sizeof(rep));
    cert_check(cert, key, chain, public_name(), a->now, &rep);
    if (!rep.ok) {
        refuse(res, -1, "Certificate: %s", rep.error[0] ? rep.error : "not usable");
        return;
    }
    for (size_t i = 0; i < rep.nwarnings && i < 3; i++)
        step(res, true, "warning", "%s", rep.warnings[i]);
    if (cert_install(cert, key, chain, res) != 0)
        return;
    service_reload_pullboxd(res);
    a->later |= LATER_LIGHTTPD;
    step(res, true, "restart lighttpd", "in a second: reload the page if it does not answer");
    if (res->ok)
        snprintf(res->message, sizeof(res->message), "The certificate for %.400s is installed.",
                 rep.names[0] ? rep.names : rep.subject);
}

void op_cert_self_signed(struct apply *a, const struct request *r, struct result *res)
{
    struct settings st;
    struct secrets sec;
    char names[1200], prog[PATH_MAX], tcert[PATH_MAX], tkey[PATH_MAX], path[PATH_MAX];
    char err[256], *out = NULL;
    int rc;

    (void)r;
    if (state_load(&st, &sec, res) != 0)
        return;
    /* the names clients use: the public name, the host name, the static address */
    snprintf(names, sizeof(names), "%s", st.v[S_HOSTNAME]);
    if (st.v[S_SITE_PUBLIC_NAME][0] && strcmp(st.v[S_SITE_PUBLIC_NAME], st.v[S_HOSTNAME]) != 0)
        snprintf(names, sizeof(names), "%.1000s,%.100s", st.v[S_SITE_PUBLIC_NAME],
                 st.v[S_HOSTNAME]);
    if (strcmp(st.v[S_NET_MODE], "static") == 0 && st.v[S_NET_ADDRESS][0]) {
        size_t n = strlen(names);
        snprintf(names + n, sizeof(names) - n, ",%.*s", (int)strcspn(st.v[S_NET_ADDRESS], "/"),
                 st.v[S_NET_ADDRESS]);
    }
    root_path(prog, sizeof(prog), PATH_SBIN "/pullboxd");
    root_path(tcert, sizeof(tcert), PATH_TLS_DIR "/cert.pem.new");
    root_path(tkey, sizeof(tkey), PATH_TLS_DIR "/key.pem.new");
    const char *argv[] = {prog, "--make-cert", tcert, tkey, names, NULL};
    rc = root_run(argv, NULL, NULL, 60, &out, NULL, err, sizeof(err));
    free(out);
    if (rc != 0) {
        step(res, false, "certificate", "pullboxd --make-cert: %s", err);
        unlink(tcert);
        unlink(tkey);
        return;
    }
    /* by descriptor, never following a link: root:pullbox 0640 */
    root_path(path, sizeof(path), PATH_TLS_DIR);
    int dfd = file_open_dir(path);
    if (dfd < 0 ||
        file_secure_at(dfd, "key.pem.new", false, 0, tls_gid(), 0640, err, sizeof(err)) != 0 ||
        file_secure_at(dfd, "cert.pem.new", false, 0, tls_gid(), 0640, err, sizeof(err)) != 0) {
        step(res, false, "certificate", "%s", dfd < 0 ? strerror(errno) : err);
        if (dfd >= 0)
            close(dfd);
        unlink(tcert);
        unlink(tkey);
        return;
    }
    close(dfd);
    root_path(path, sizeof(path), PATH_TLS_KEY);
    rc = rename(tkey, path);
    root_path(path, sizeof(path), PATH_TLS_CERT);
    if (rc != 0 || rename(tcert, path) != 0) {
        step(res, false, "certificate", "cannot install it: %s", strerror(errno));
        unlink(tcert);
        unlink(tkey);
        return;
    }
    root_path(path, sizeof(path), PATH_TLS_CHAIN);
    unlink(path);
    if (cert_publish(err, sizeof(err)) != 0)
        step(res, false, "certificate", "installed, but not shown to the wizard: %s", err);
    step(res, true, "certificate", "new self-signed certificate for %s", names);
    service_reload_pullboxd(res);
    a->later |= LATER_LIGHTTPD;
    step(res, true, "restart lighttpd", "in a second: reload the page if it does not answer");
    if (res->ok)
        snprintf(res->message, sizeof(res->message), "A new self-signed certificate is in place.");
}
