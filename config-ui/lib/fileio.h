/* Whole-file reads and atomic writes: every file config-ui writes is
 * written to a temporary file in the same folder, fsynced, renamed over the
 * old one and the folder fsynced, so a power cut leaves the old or the new
 * file, never half of one. */
#ifndef PULLBOX_CFG_FILEIO_H
#define PULLBOX_CFG_FILEIO_H

#include <stddef.h>

/* Writes len bytes atomically with mode (the old file's owner and group
 * are kept when the writer is root). Returns 0 or -1 with err naming
 * the file and the errno text. */
int file_write_atomic(const char *path, const void *data, size_t len, unsigned mode, char *err,
                      size_t errlen);

/* The same, and the file gets owner uid and group gid (-1: the old file's,
 * or the writer's for a new file; only root changes them). */
int file_write_atomic_owned(const char *path, const void *data, size_t len, unsigned mode, long uid,
                            long gid, char *err, size_t errlen);

/* Reads at most max bytes of path into a new NUL-terminated buffer (*out,
 * free() it). Returns the length, or -1 with err (missing file: errno
 * ENOENT, err says so; larger than max: refused). */
long file_read_all(const char *path, size_t max, char **out, char *err, size_t errlen);

/* "key = value" text: fn is called for each line that is not blank or a
 * '#' comment, with key and value trimmed of spaces and tabs; lines longer
 * than line_max, lines without '=' and NUL bytes are errors. fn returns 0,
 * or -1 with err; err then gets "line N: " in front. Returns 0 or -1. */
typedef int file_kv_fn(void *ctx, const char *key, const char *value, char *err, size_t errlen);
int file_kv_parse(const char *data, size_t len, size_t line_max, file_kv_fn *fn, void *ctx,
                  char *err, size_t errlen);

/* Reads path (at most max bytes) and hands its text to fn. A missing file:
 * 1 (fn is not called). Otherwise 0, or -1 with err naming the file. */
typedef int file_parse_fn(void *ctx, const char *data, size_t len, char *err, size_t errlen);
int file_load(const char *path, size_t max, file_parse_fn *fn, void *ctx, char *err, size_t errlen);

/* 1 if path differs from data (or is missing), 0 if identical, -1 on error. */
int file_differs(const char *path, const void *data, size_t len);

#endif
