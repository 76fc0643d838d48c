/* The append-only journal that makes published messages survive a restart:
 * a directory of segment files, each a sequence of checksummed records.
 * Records are buffered during a loop iteration and written (and, in
 * `always` mode, fdatasync'ed) before the loop sleeps, which is before any
 * publish of that iteration is acknowledged. Old segments go when every
 * message in them has expired. */
#ifndef PULLBOX_JOURNAL_H
#define PULLBOX_JOURNAL_H

#include "first.h"

#include "buf.h"

#define JOURNAL_MAGIC 0x314a4250u /* "PBJ1" little-endian */
#define JOURNAL_HEADER 12         /* magic, payload length, crc32 */
#define JOURNAL_MAX_RECORD (64u << 20)

enum journal_rec_type { JOURNAL_REC_MSG = 1, JOURNAL_REC_DELETE = 2 };

/* A decoded record; every pointer borrows the replay buffer. */
struct journal_rec {
    uint8_t type;
    const char *mid; /* 26 digits, not NUL-terminated */
    uint32_t created, expiry;
    uint16_t tag;
    uint8_t sender_type;
    uint8_t sender_id_len;
    const uint8_t *sender_id;
    uint16_t n_channels;
    const uint8_t *channels; /* n_channels of (u8 length, bytes) */
    const uint8_t *body;
    uint32_t body_len;
    const char *user_params; /* JSON or NULL */
    uint32_t user_params_len;
    const char *dictionary;
    uint32_t dictionary_len;
};

struct journal_segment {
    uint64_t seq;
    uint64_t size;
    uint32_t last_expiry; /* newest created + expiry of any record in it */
};

struct journal {
    char *dir;
    int fd;             /* the active segment */
    bool sync_always;   /* fdatasync before acknowledging */
    bool failed;        /* the last write failed: publishes are refused */
    struct buf pending; /* records not yet written */
    bool unsynced;      /* written but not yet fdatasync'ed */
    uint64_t segment_size;
    uint64_t max_size;
    struct journal_segment *segs; /* oldest first; the last one is active */
    size_t n_segs;
    uint64_t bytes_written, syncs, records;
};

struct journal_replay_stats {
    uint64_t records, skipped_expired, segments;
    uint64_t torn_bytes; /* cut off a damaged tail */
};

/* Opens (creating) the journal directory. Returns 0 or -1 with err. */
int journal_open(struct journal *j, const char *dir, bool sync_always, uint64_t segment_size,
                 uint64_t max_size, char *err, size_t errlen);
/* Reads every segment in order, calling fn for each valid record. A damaged
 * record ends its segment: the file is cut there and the loss logged. Then
 * opens a new active segment. Returns 0 or -1 with err. */
int journal_replay(struct journal *j, void (*fn)(void *arg, const struct journal_rec *r), void *arg,
                   struct journal_replay_stats *st, char *err, size_t errlen);
/* Calls fn for each valid record of the segment contents data[0..len), in
 * order, up to the first damaged or torn one; raises *last_expiry to the
 * newest created + expiry seen and adds the records to *records. Returns
 * the length of the good prefix (len when the whole segment is good). */
size_t journal_scan(const uint8_t *data, size_t len,
                    void (*fn)(void *arg, const struct journal_rec *r), void *arg,
                    uint32_t *last_expiry, uint64_t *records);
/* Buffers a message record (written by journal_flush). */
void journal_add_msg(struct journal *j, const struct journal_rec *r);
/* Buffers a delete record for n channel ids. */
void journal_add_delete(struct journal *j, char *const *channels, size_t n);
/* Writes the buffered records; in always mode also fdatasyncs. Returns 0,
 * or -1 after logging (j->failed is set until a write succeeds). */
int journal_flush(struct journal *j);
/* fdatasync of what was written (the timer of the batched mode). */
void journal_sync(struct journal *j);
/* Rotates a full segment and removes segments whose messages all expired,
 * or the oldest ones beyond max_size. */
void journal_maintain(struct journal *j, uint32_t now);
void journal_close(struct journal *j);
/* Decodes one record payload; false when it is not well formed. */
bool journal_decode(const uint8_t *p, size_t n, struct journal_rec *r);
uint32_t journal_crc32(const uint8_t *p, size_t n);

#endif
