/* backup: the encrypted backup of this appliance. It is made here, as root,
 * because it holds files the tools may not read (the TLS key, the SSH host
 * keys); the tool gets only the encrypted file, beside its result, readable
 * by the request's writer alone. */
#include "apply.h"

#include "backup.h"

#include <stdlib.h>
#include <string.h>

void op_backup(struct apply *a, const struct request *r, struct result *res)
{
    const char *pass = request_get(r, "passphrase", NULL);
    unsigned char *data = NULL;
    size_t len = 0;
    char err[256];

    if (pass == NULL || backup_check_passphrase(pass, err, sizeof(err)) != 0) {
        refuse(res, -1, "%s", pass ? err : "no passphrase was given");
        return;
    }
    if (backup_create(pass, &data, &len, err, sizeof(err)) != 0) {
        step(res, false, "make the backup", "%s", err);
        return;
    }
    if (spool_attach(a->id, "bak", data, len, err, sizeof(err)) != 0)
        step(res, false, "hand over the backup", "%s", err);
    else
        step(res, true, "make the backup", "%zu bytes, encrypted with the passphrase", len);
    explicit_bzero(data, len);
    free(data);
}
