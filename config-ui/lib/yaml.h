/* A strict subset of YAML, enough for cloud-init's NoCloud files: block
 * mappings and sequences by indentation, "- key: value" items, plain,
 * 'single' and "double" quoted scalars, one-line flow sequences [a, b] and
 * comments. What it does not read (anchors, aliases, tags, block scalars,
 * flow mappings) becomes a YAML_BAD node that says so: an error only if a
 * caller asks for that value, so unknown keys never spoil the known ones. */
#ifndef PULLBOX_CFG_YAML_H
#define PULLBOX_CFG_YAML_H

#include <stdbool.h>
#include <stddef.h>

#define YAML_LINES_MAX 4096
#define YAML_DEPTH_MAX 16

enum yaml_kind { YAML_SCALAR, YAML_MAP, YAML_SEQ, YAML_BAD };

struct yaml {
    enum yaml_kind kind;
    char *key;          /* in a mapping: the entry's key */
    char *text;         /* SCALAR: the value; BAD: why it was not read */
    int line;           /* 1-based, for messages */
    struct yaml *child; /* MAP, SEQ: the first entry */
    struct yaml *next;  /* the next entry of the parent */
};

/* Parses text (len bytes). Returns the root (a MAP, SEQ or SCALAR; NULL
 * for an empty document) or NULL with err on a document whose structure it
 * cannot follow (a bad indentation, a line that is neither). */
struct yaml *yaml_parse(const char *text, size_t len, char *err, size_t errlen, bool *failed);
void yaml_free(struct yaml *y);

/* The value of key in a MAP, or NULL. */
const struct yaml *yaml_get(const struct yaml *map, const char *key);
/* The scalar text of key in a MAP, or NULL if absent or not a scalar. */
const char *yaml_scalar(const struct yaml *map, const char *key);
/* true/yes/on (YAML 1.1, as cloud-init reads it). */
bool yaml_true(const char *s);

#endif
