/* Whole-file reads and atomic writes: every file config-ui writes is
 * written to a temporary file in the same folder, fsynced, renamed over the
 * old one and the folder fsynced, so a power cut leaves the old or the new
 * file, never half of one. */
#ifndef PULLBOX_CFG_FILEIO_H
#define PULLBOX_CFG_FILEIO_H

#include <stddef.h>

/* Writes len bytes atomically with mode. Returns 0 or -1 with err naming
 * the file and the errno text. */
int file_write_atomic(const char *path, const void *data, size_t len, unsigned mode, char *err,
                      size_t errlen);

/* Reads at most max bytes of path into a new NUL-terminated buffer (*out,
 * free() it). Returns the length, or -1 with err (missing file: errno
 * ENOENT, err says so; larger than max: refused). */
long file_read_all(const char *path, size_t max, char **out, char *err, size_t errlen);

/* 1 if path differs from data (or is missing), 0 if identical, -1 on error. */
int file_differs(const char *path, const void *data, size_t len);

#endif
