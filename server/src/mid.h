/* Message ids (mid.c): the 26-digit mids and push-stream tags this node
 * gives out, and whether a mid a client resumes from was given out here. */
#ifndef PULLBOX_MID_H
#define PULLBOX_MID_H

#include "first.h"

struct server;

/* Builds the next 26-digit mid. */
void mid_next(struct server *s, char out[27]);
/* The creation time of a message published at `now`: never before the
 * last one's (clocks step back, workers' differ by a little, and a second
 * whose 65535 tags are used up moves on to the next). */
uint32_t mid_tag_time(const struct server *s, uint32_t now);
/* Next push-stream tag (1..65535) for a message created at `created`, which
 * is mid_tag_time()'s or later. */
uint16_t mid_next_tag(struct server *s, uint32_t created);
/* With workers: mid has been given out (called before any worker delivers
 * it, so subscribers check resume mids without the publish lock). */
void mid_note_issued(const struct server *s, const char *mid);
/* Mids of this run continue above counter (the journal's newest, replayed
 * at start): those below it count as issued. */
void mid_continue(uint64_t counter);
/* Whether this server has issued mid (or one above it). */
bool mid_issued(const struct server *s, const char *mid);

#endif
