/* Pieces of the wizard's forms: the form tag with its CSRF token, labelled
 * fields with help text and an error next to them, and the apply service's
 * result in words. */
#ifndef PULLBOX_WIZARD_FORM_H
#define PULLBOX_WIZARD_FORM_H

#include "wizard.h"

#include <stdbool.h>

struct result;

/* <form method=post action=...> and the hidden CSRF token. */
void form_begin(const struct wiz *w, const char *action, bool upload);
void form_end(const char *button);

/* A labelled input. type: "text", "password", "file", "textarea", "number".
 * help and err may be NULL; err makes the field invalid and is shown next
 * to it. */
void form_input(const char *type, const char *name, const char *label, const char *value,
                const char *help, const char *err);

/* A <select> of choices (NULL-terminated) with value selected. */
void form_select(const char *name, const char *label, const char *const *choices,
                 const char *value, const char *help, const char *err);

/* A secret shown to copy (the signing key, a hub's Redis password): its
 * label, the value in <code id=id> and a copy button (wizard.js shows it). */
void form_secret_value(const char *id, const char *label, const char *value);

/* The apply service's answer: its summary and each step, done or failed. */
void form_result(const struct result *res);

#endif
