/* A growable byte buffer: the input buffer of each connection and the
 * scratch space encoders append to. */
#ifndef PULLBOX_BUF_H
#define PULLBOX_BUF_H

#include "first.h"

struct buf {
    uint8_t *data;
    size_t len; /* bytes in use */
    size_t cap; /* bytes allocated */
};

void buf_init(struct buf *b);
/* Frees the storage; the buf is empty and reusable afterwards. */
void buf_deinit(struct buf *b);
/* Ensures room for n more bytes; returns the write position (data + len). */
uint8_t *buf_reserve(struct buf *b, size_t n);
/* Appends n bytes (copies). */
void buf_append(struct buf *b, const void *p, size_t n);
void buf_append_str(struct buf *b, const char *s);
void buf_append_byte(struct buf *b, uint8_t c);
/* Appends printf output. */
void buf_printf(struct buf *b, const char *fmt, ...) PB_PRINTF(2, 3);
/* Drops the first n bytes. */
void buf_consume(struct buf *b, size_t n);
/* Hands the storage to the caller (who frees it) and leaves b empty. */
uint8_t *buf_steal(struct buf *b, size_t *len);

#endif
