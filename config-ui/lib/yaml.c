/* The YAML subset of yaml.h: the text is cut into lines (indentation,
 * content without comments), then read by indentation, recursively. */
#include "yaml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct line {
    int indent;
    char *text;
    int no;
};

struct parser {
    struct line *lines;
    int n, i;
    char *err;
    size_t errlen;
    bool failed;
};

static struct yaml *node(enum yaml_kind kind, const char *text, size_t len, int line)
{
    struct yaml *y = calloc(1, sizeof(*y));
    if (y == NULL)
        abort();
    y->kind = kind;
    y->line = line;
    if (text) {
        y->text = malloc(len + 1);
        if (y->text == NULL)
            abort();
        memcpy(y->text, text, len);
        y->text[len] = '\0';
    }
    return y;
}

void yaml_free(struct yaml *y)
{
    while (y) {
        struct yaml *next = y->next;
        yaml_free(y->child);
        free(y->key);
        free(y->text);
        free(y);
        y = next;
    }
}

static void fail(struct parser *p, int line, const char *what)
{
    if (!p->failed)
        snprintf(p->err, p->errlen, "line %d: %s", line, what);
    p->failed = true;
}

/* Where a comment starts (a # at the start or after a blank, outside
 * quotes), or the end. */
static char *comment_start(char *s)
{
    char q = 0;
    for (char *c = s; *c; c++) {
        if (q == '\'' && *c == '\'' && c[1] == '\'') {
            c++;
        } else if (q == '"' && *c == '\\' && c[1]) {
            c++;
        } else if (q && *c == q) {
            q = 0;
        } else if (!q && (*c == '\'' || *c == '"') &&
                   (c == s || c[-1] == ' ' || c[-1] == '[' || c[-1] == ',')) {
            q = *c;
        } else if (!q && *c == '#' && (c == s || c[-1] == ' ' || c[-1] == '\t')) {
            return c;
        }
    }
    return s + strlen(s);
}

static bool is_item(const char *t)
{
    return t[0] == '-' && (t[1] == '\0' || t[1] == ' ');
}

/* The ':' that ends a mapping key (followed by a blank or the end, outside
 * quotes), or NULL. */
static char *key_colon(char *t)
{
    char q = 0;
    for (char *c = t; *c; c++) {
        if (q && *c == q)
            q = 0;
        else if (!q && c == t && (*c == '\'' || *c == '"'))
            q = *c;
        else if (!q && *c == ':' && (c[1] == '\0' || c[1] == ' '))
            return c;
        else if (!q && (*c == '[' || *c == '{') && c == t)
            return NULL;
    }
    return NULL;
}

static char *trim(char *s)
{
    size_t n;
    while (*s == ' ' || *s == '\t')
        s++;
    n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    return s;
}

/* A quoted scalar starting at s; NULL if it is not well formed or text
 * follows the closing quote. */
static struct yaml *quoted(const char *s, int line)
{
    char q = s[0], *out = malloc(strlen(s) + 1);
    size_t n = 0;
    const char *c;
    struct yaml *y;

    if (out == NULL)
        abort();
    for (c = s + 1; *c; c++) {
        if (q == '\'' && *c == '\'' && c[1] == '\'') {
            out[n++] = '\'';
            c++;
        } else if (*c == q) {
            break;
        } else if (q == '"' && *c == '\\') {
            c++;
            switch (*c) {
            case '\\':
                out[n++] = '\\';
                break;
            case '"':
                out[n++] = '"';
                break;
            case '/':
                out[n++] = '/';
                break;
            case 'n':
                out[n++] = '\n';
                break;
            case 't':
                out[n++] = '\t';
                break;
            default:
                free(out);
                return NULL;
            }
        } else {
            out[n++] = *c;
        }
    }
    if (*c != q || c[1] != '\0') {
        free(out);
        return NULL;
    }
    y = node(YAML_SCALAR, out, n, line);
    free(out);
    return y;
}

static struct yaml *scalar(char *s, int line)
{
    struct yaml *y;

    if (s[0] == '[') {
        size_t n = strlen(s);
        struct yaml *seq = node(YAML_SEQ, NULL, 0, line), **tail = &seq->child;
        char *item = s + 1, q = 0;
        if (s[n - 1] != ']') {
            yaml_free(seq);
            return node(YAML_BAD, "a flow sequence must end on its line", 36, line);
        }
        s[n - 1] = '\0';
        if (*trim(item) == '\0')
            return seq;
        for (char *c = item;; c++) {
            if (q && *c == q) {
                q = 0;
            } else if (!q && (*c == '\'' || *c == '"')) {
                q = *c;
            } else if (*c == '\0' || (!q && *c == ',')) {
                char end = *c;
                *c = '\0';
                char *t = trim(item);
                *tail = t[0] == '[' || t[0] == '{' || t[0] == '\0'
                            ? node(YAML_BAD, "nested or empty flow items are not read", 39, line)
                            : scalar(t, line);
                tail = &(*tail)->next;
                if (end == '\0')
                    break;
                item = c + 1;
            }
        }
        return seq;
    }
    if (s[0] == '{')
        return node(YAML_BAD, "flow mappings {...} are not read", 32, line);
    if (s[0] == '&' || s[0] == '*' || s[0] == '!')
        return node(YAML_BAD, "anchors, aliases and tags are not read", 38, line);
    if (s[0] == '|' || s[0] == '>')
        return node(YAML_BAD, "block scalars (| or >) are not read", 35, line);
    if (s[0] == '\'' || s[0] == '"') {
        y = quoted(s, line);
        return y ? y : node(YAML_BAD, "a quoted value is not closed properly", 37, line);
    }
    return node(YAML_SCALAR, s, strlen(s), line);
}

static struct yaml *block(struct parser *p, int indent, int depth);

/* Lines indented deeper than a scalar value: a multi-line value (or a
 * block scalar's text), which is not read. */
static void after_scalar(struct parser *p, struct yaml **value, int indent)
{
    if (p->i < p->n && p->lines[p->i].indent > indent) {
        while (p->i < p->n && p->lines[p->i].indent > indent)
            p->i++;
        if ((*value)->kind != YAML_BAD) {
            int line = (*value)->line;
            yaml_free(*value);
            *value = node(YAML_BAD, "multi-line values are not read", 30, line);
        }
    }
}

/* The value after "key:" or "-" when it is on the next lines. */
static struct yaml *nested(struct parser *p, int indent, int depth, int line, bool in_map)
{
    if (p->i < p->n && p->lines[p->i].indent > indent)
        return block(p, p->lines[p->i].indent, depth + 1);
    if (in_map && p->i < p->n && p->lines[p->i].indent == indent && is_item(p->lines[p->i].text))
        return block(p, indent, depth + 1); /* "key:" then "- item" at the same indent */
    return node(YAML_SCALAR, "", 0, line);
}

static struct yaml *sequence(struct parser *p, int indent, int depth)
{
    struct yaml *seq = node(YAML_SEQ, NULL, 0, p->lines[p->i].no), **tail = &seq->child;

    while (!p->failed && p->i < p->n && p->lines[p->i].indent == indent &&
           is_item(p->lines[p->i].text)) {
        struct line *l = &p->lines[p->i];
        char *content = trim(l->text + 1);
        if (*content == '\0') {
            p->i++;
            *tail = nested(p, indent, depth, l->no, false);
        } else if (key_colon(content)) {
            /* "- key: value": a mapping whose keys line up after the dash */
            l->indent += (int)(content - l->text);
            l->text = content;
            *tail = block(p, l->indent, depth + 1);
        } else {
            p->i++;
            *tail = scalar(content, l->no);
            after_scalar(p, tail, indent);
        }
        tail = &(*tail)->next;
    }
    return seq;
}

static struct yaml *mapping(struct parser *p, int indent, int depth)
{
    struct yaml *map = node(YAML_MAP, NULL, 0, p->lines[p->i].no), **tail = &map->child;

    while (!p->failed && p->i < p->n && p->lines[p->i].indent == indent) {
        struct line *l = &p->lines[p->i];
        char *colon = key_colon(l->text), *key, *rest;
        struct yaml *k;
        if (is_item(l->text) || colon == NULL) {
            fail(p, l->no,
                 is_item(l->text) ? "a list item where a 'key: value' was expected"
                                  : "expected 'key: value'");
            break;
        }
        *colon = '\0';
        key = trim(l->text);
        rest = trim(colon + 1);
        if (key[0] == '\'' || key[0] == '"') {
            k = quoted(key, l->no);
            if (k == NULL) {
                fail(p, l->no, "a quoted key is not closed properly");
                break;
            }
        } else {
            k = node(YAML_SCALAR, key, strlen(key), l->no);
        }
        p->i++;
        if (*rest == '\0') {
            *tail = nested(p, indent, depth, l->no, true);
        } else {
            *tail = scalar(rest, l->no);
            after_scalar(p, tail, indent);
        }
        (*tail)->key = k->text;
        k->text = NULL;
        yaml_free(k);
        tail = &(*tail)->next;
    }
    return map;
}

static struct yaml *block(struct parser *p, int indent, int depth)
{
    if (depth > YAML_DEPTH_MAX) {
        fail(p, p->lines[p->i].no, "nested too deeply");
        return node(YAML_BAD, "nested too deeply", 17, p->lines[p->i].no);
    }
    if (is_item(p->lines[p->i].text))
        return sequence(p, indent, depth);
    if (key_colon(p->lines[p->i].text))
        return mapping(p, indent, depth);
    /* a lone scalar (a document that is just a value) */
    struct yaml *y = scalar(trim(p->lines[p->i].text), p->lines[p->i].no);
    p->i++;
    after_scalar(p, &y, indent);
    return y;
}

struct yaml *yaml_parse(const char *text, size_t len, char *err, size_t errlen, bool *failed)
{
    struct parser p = {.err = err, .errlen = errlen};
    char *buf, *s;
    struct yaml *root = NULL;
    int no = 0;

    *failed = false;
    err[0] = '\0';
    if (memchr(text, '\0', len)) {
        snprintf(err, errlen, "a NUL byte");
        *failed = true;
        return NULL;
    }
    buf = malloc(len + 1);
    p.lines = calloc(YAML_LINES_MAX, sizeof(*p.lines));
    if (buf == NULL || p.lines == NULL)
        abort();
    memcpy(buf, text, len);
    buf[len] = '\0';
    for (s = buf; s && !p.failed;) {
        char *nl = strchr(s, '\n'), *t;
        int indent = 0;
        if (nl)
            *nl = '\0';
        no++;
        size_t n = strlen(s);
        if (n > 0 && s[n - 1] == '\r')
            s[n - 1] = '\0';
        while (s[indent] == ' ')
            indent++;
        t = s + indent;
        *comment_start(t) = '\0';
        t = trim(t);
        if (s[indent] == '\t')
            fail(&p, no, "a tab in the indentation");
        else if (*t == '%')
            fail(&p, no, "YAML directives are not read");
        else if (*t && !(strcmp(t, "---") == 0 && p.n == 0) && strcmp(t, "...") != 0) {
            if (strncmp(t, "---", 3) == 0 || p.n >= YAML_LINES_MAX)
                fail(&p, no,
                     p.n >= YAML_LINES_MAX ? "too many lines" : "only one document is read");
            else
                p.lines[p.n++] = (struct line){indent, t, no};
        }
        s = nl ? nl + 1 : NULL;
    }
    if (!p.failed && p.n > 0) {
        root = block(&p, p.lines[0].indent, 0);
        if (!p.failed && p.i < p.n)
            fail(&p, p.lines[p.i].no, "unexpected indentation");
    }
    free(p.lines);
    free(buf);
    if (p.failed) {
        yaml_free(root);
        *failed = true;
        return NULL;
    }
    return root;
}

const struct yaml *yaml_get(const struct yaml *map, const char *key)
{
    if (map == NULL || map->kind != YAML_MAP)
        return NULL;
    for (const struct yaml *e = map->child; e; e = e->next)
        if (e->key && strcmp(e->key, key) == 0)
            return e;
    return NULL;
}

const char *yaml_scalar(const struct yaml *map, const char *key)
{
    const struct yaml *v = yaml_get(map, key);
    return v && v->kind == YAML_SCALAR ? v->text : NULL;
}

bool yaml_true(const char *s)
{
    return s &&
           (strcasecmp(s, "true") == 0 || strcasecmp(s, "yes") == 0 || strcasecmp(s, "on") == 0);
}
