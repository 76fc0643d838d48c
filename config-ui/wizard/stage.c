/* Staged requests (see stage.h). */
#include "stage.h"

#include "fileio.h"
#include "spool.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int stage_put(const struct session *s, const char *what, const struct request *r)
{
    char path[512], err[256], *data = NULL;
    size_t len;
    int rc = session_stage_path(s, what, path, sizeof(path)) < 0 || request_encode(r, &data, &len) < 0
                 ? -1
                 : file_write_atomic(path, data, len, 0600, err, sizeof(err));
    free(data);
    return rc;
}

int stage_take(const struct session *s, const char *what, const char *op, struct request *r)
{
    char path[512], err[256], *data = NULL;
    request_init(r, "");
    long n = session_stage_path(s, what, path, sizeof(path)) < 0
                 ? -1
                 : file_read_all(path, REQUEST_MAX_BYTES, &data, err, sizeof(err));
    int rc = n < 0 || request_decode(data, (size_t)n, r, err, sizeof(err)) < 0 ||
                     strcmp(r->op, op) != 0
                 ? -1
                 : 0;
    free(data);
    if (n >= 0)
        unlink(path);
    if (rc < 0)
        request_free(r);
    return rc;
}
