/* Whole-file reads and atomic writes: every file config-ui writes is
 * written to a temporary file in the same folder, fsynced, renamed over the
 * old one and the folder fsynced, so a power cut leaves the old or the new
 * file, never half of one.
 *
 * Every path is walked one folder at a time (openat), and a symbolic link
 * is followed only inside a folder that root alone can write: in the
 * admin's home, the spool or any folder another user can write, a link is
 * refused (ELOOP), so root never reads, writes or chowns through a link
 * someone else planted. A file written by root is root's unless the caller
 * names another owner. */
#ifndef PULLBOX_CFG_FILEIO_H
#define PULLBOX_CFG_FILEIO_H

#include <stdbool.h>
#include <stddef.h>

/* Writes len bytes atomically with mode. The owner is the writer; the old
 * file's group is kept when root owned the old file. Returns 0 or -1 with
 * err naming the file and the errno text. */
int file_write_atomic(const char *path, const void *data, size_t len, unsigned mode, char *err,
                      size_t errlen);

/* The same, and the file gets owner uid and group gid (uid -1: the
 * writer; gid -1: as above; only root changes them). */
int file_write_atomic_owned(const char *path, const void *data, size_t len, unsigned mode, long uid,
                            long gid, char *err, size_t errlen);

/* The same for name in the folder dirfd (from file_open_dir); shown names
 * the file in err. */
int file_write_atomic_at(int dirfd, const char *name, const char *shown, const void *data,
                         size_t len, unsigned mode, long uid, long gid, char *err, size_t errlen);

/* Opens the folder path (O_PATH) by the walk described above. Returns the
 * descriptor, or -1 with errno (ELOOP: a link where it is not trusted). */
int file_open_dir(const char *path);

/* True when nobody but root can add, remove or rename entries in the
 * folder dirfd: owned by root and writable by no group but root's and by
 * no one else. */
bool file_dir_private(int dirfd);

/* Makes the entry name of dirfd a real folder (dir) or a plain file owned
 * by uid (-1: unchanged), gid (-1: unchanged) with mode, through a
 * descriptor opened without following a link. What does not belong there
 * (a link, a folder where a file belongs or the reverse, and in a folder
 * others can write a file with another hard link) is removed first; a
 * file with another hard link in root's own folder is left as it is; a
 * missing folder is made, a missing file is left missing. Returns the
 * open descriptor of the folder (dir), 0 for a file (or a missing one),
 * -1 with err. */
int file_secure_at(int dirfd, const char *name, bool dir, long uid, long gid, unsigned mode,
                   char *err, size_t errlen);

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

/* Writes all len bytes to fd (retried on EINTR). 0, or -1 with errno. */
int file_write_all(int fd, const void *data, size_t len);

/* 1 if path differs from data (or is missing), 0 if identical, -1 on error. */
int file_differs(const char *path, const void *data, size_t len);

#endif
