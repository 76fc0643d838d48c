/* Change requests from the unprivileged tools (the wizard CGI runs as www,
 * the console as admin) to the root-owned apply service (pullbox-apply,
 * a runit service), through a spool folder (PATH_SPOOL, group "config"):
 *
 *   <id>.req  written atomically by the tool (tmp + rename); <id> is the
 *             time and 16 random hex digits
 *   <id>.res  written atomically by the apply service once it has acted;
 *             the tool reads it and removes both
 *
 * A request is an operation and named arguments; values may hold any bytes
 * but NUL (PEM files, a backup bundle): the file format escapes them. The
 * apply service trusts nothing in a request: it validates every argument
 * with the same code as the tools (settings_set, cert checks, ...).
 *
 * Operations (op: arguments):
 *   settings: every settings key (settings.h), and cluster.hub-password (a
 *             node's copy of the hub's Redis password: a secret; empty
 *             keeps the stored one) -> validate, render, apply
 *   claim: admin-password-hash -> set the hash, remove the setup code
 *   password: admin-password-hash
 *   ssh-key-add: key (one authorized_keys line: type, base64, comment)
 *   ssh-key-remove: index (1-based, as listed)
 *   rotate-key: (none) -> new key; the old one accepted for the grace period
 *   cert-upload: certificate, private-key, chain (PEM)
 *   cert-self-signed: (none) -> a new self-signed certificate
 *   network-confirm: (none) -> keep the new network settings
 *   restore: the files of a decrypted backup (backup.h names)
 *   backup: passphrase -> the encrypted backup as <id>.bak beside the result
 *           (the tools may not read the TLS key or the SSH host keys)
 *   service: name (pullboxd|lighttpd|dropbear|ntpd|network|redis|all),
 *            action (restart)
 *   factory-reset: confirm ("yes")
 *   reboot, poweroff: (none)
 *   update-status, update-install: an update bundle (update.h)
 */
#ifndef PULLBOX_CFG_SPOOL_H
#define PULLBOX_CFG_SPOOL_H

#include <stdbool.h>
#include <stddef.h>

#define REQUEST_MAX_ARGS 48
#define REQUEST_OP_MAX 32
#define REQUEST_KEY_MAX 64
#define REQUEST_MAX_BYTES (1024 * 1024) /* a whole request file */
#define RESULT_MAX_STEPS 16
/* The settings request's one argument that is not a setting (a secret). */
#define OP_SETTINGS_HUB_PASSWORD "cluster.hub-password"

struct request_arg {
    char key[REQUEST_KEY_MAX];
    char *value; /* malloc'ed */
    size_t len;
};

struct request {
    char op[REQUEST_OP_MAX];
    struct request_arg args[REQUEST_MAX_ARGS];
    size_t nargs;
};

void request_init(struct request *r, const char *op);
/* Copies value (len bytes). Returns 0, or -1 when full or too long. */
int request_add(struct request *r, const char *key, const char *value, size_t len);
/* The value of key, or NULL (len in *len if non-NULL). */
const char *request_get(const struct request *r, const char *key, size_t *len);
void request_free(struct request *r);

/* Serialization (also used for the results' step lines). */
int request_encode(const struct request *r, char **out, size_t *outlen);
int request_decode(const char *data, size_t len, struct request *r, char *err, size_t errlen);

/* What the apply service did: one line per step ("render pullbox.conf",
 * "reload pullboxd", "firewall"), each ok or not, in words for an admin. */
struct result_step {
    char what[64];
    bool ok;
    char detail[256];
};
struct result {
    bool ok;           /* every step ok */
    char message[512]; /* summary, or why the request was refused */
    int field;         /* settings: the setting_id to blame when refused, else -1 */
    struct result_step steps[RESULT_MAX_STEPS];
    size_t nsteps;
};

int result_encode(const struct result *res, char **out, size_t *outlen);
int result_decode(const char *data, size_t len, struct result *res, char *err, size_t errlen);

/* Tool side: writes the request and waits up to timeout seconds for its
 * result (polling the folder). Returns 0 with *res filled, or -1 with err
 * ("the apply service did not answer in 30 s: is it running? sv status
 * pullbox-apply"). */
int spool_call(const struct request *r, double timeout, struct result *res, char *err,
               size_t errlen);

/* The two halves of spool_call: write a request (*id receives its id, at
 * least 37 bytes), and wait for its result (the result file is removed;
 * on timeout the request is withdrawn). 0 or -1 with err. */
int spool_submit(const struct request *r, char *id, size_t idlen, char *err, size_t errlen);
int spool_wait(const char *id, double timeout, struct result *res, char *err, size_t errlen);
/* A new request id: 19 digits of nanoseconds since 1970, '-', 16 lowercase
 * hex digits (text order is time order). 0 or -1. */
int spool_new_id(char *id, size_t idlen);
bool spool_id_valid(const char *id);

/* Service side: the oldest pending request's id, or 0 if none. */
int spool_next(char *id, size_t idlen);
int spool_read(const char *id, struct request *r, char *err, size_t errlen);
/* Writes <id>.res (owner: the request's writer; group: the spool folder's;
 * 0640) and removes <id>.req. */
int spool_answer(const char *id, const struct result *res, char *err, size_t errlen);
/* Service side: writes <id>.<ext> (e.g. "bak") for the request's writer only
 * (mode 0600, its owner). Call before spool_answer. 0 or -1 with err. */
int spool_attach(const char *id, const char *ext, const void *data, size_t len, char *err,
                 size_t errlen);
/* Tool side: reads and removes <id>.<ext> (at most max bytes). *data is
 * malloc'ed. Returns 0 or -1 with err. */
int spool_take(const char *id, const char *ext, size_t max, unsigned char **data, size_t *len,
               char *err, size_t errlen);
/* Removes a request that cannot be read (so it is not taken again). */
int spool_discard(const char *id);
/* Removes results and temporary files older than max_age seconds (their
 * tool gave up waiting). */
void spool_clean(double max_age);

#endif
