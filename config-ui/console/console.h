/* The maintenance console's own interface, shared by its files: the line
 * reader and prompts (input.c), sending one request to the apply service
 * (send.c), loading the settings (load.c), the status header (header.c) and
 * one entry point per menu item (action_*.c).
 *
 * How a change flows: an action asks its questions, validates each answer
 * with settings_set() (the wizard's validator) into a private copy of the
 * settings, shows what will change, asks "Apply? [y/N]" and only then sends
 * ONE request. Ctrl-C, "q", an empty answer or a dropped connection at any
 * prompt before that just drops the copy, so nothing is ever half-applied. */
#ifndef PULLBOX_CONSOLE_H
#define PULLBOX_CONSOLE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "groups.h"
#include "settings.h"

struct secrets;
struct request;
struct result;

#define CON_LINE_MAX 1024          /* one typed answer; longer lines are refused */
#define CON_SPOOL_TIMEOUT 60.0     /* seconds to wait for the apply service */
#define CON_PUBLISH_PORT 8895      /* pullboxd's publish port: /metrics for the header */
#define CON_HOME "data/home/admin" /* where scp puts files: backups are read and written here */

/* Set by the signal handlers, checked by the line reader and every loop:
 * con_intr by SIGINT (back to the main menu), con_quit by SIGHUP/SIGTERM or
 * end of input (leave the program). */
extern volatile sig_atomic_t con_intr;
extern volatile sig_atomic_t con_quit;
/* The session hung up (SIGHUP, or the terminal gave end of input). */
extern volatile sig_atomic_t con_hangup;

/* ---- input.c ---- */

/* Installs the handlers (SIGINT, SIGHUP, SIGTERM without SA_RESTART, so a
 * blocked read(2) returns and the reader sees the flag). */
void con_signals_init(void);
/* True once the current action must stop: Ctrl-C or end of the session. */
bool con_aborted(void);

/* Prints prompt, reads one line (trimmed) into out. True with an answer;
 * false for an empty answer, "q", Ctrl-C or end of input: the caller goes
 * back without changing anything. Over-long lines and control characters
 * are refused with a message and the question is asked again. */
bool con_ask(const char *prompt, char *out, size_t outlen);
/* As con_ask with the terminal's echo off (passwords, passphrases). */
bool con_ask_secret(const char *prompt, char *out, size_t outlen);
/* "question [y/N] ": true only for y or yes. */
bool con_confirm(const char *question);
/* As con_confirm, but false when nobody answers within seconds (*timed_out
 * set then). */
bool con_confirm_within(const char *question, int seconds, bool *timed_out);
/* A number 1..max; false to go back. */
bool con_ask_number(const char *prompt, int max, int *out);
/* Waits for Enter (true) or "q" / Ctrl-C / end of input (false). */
bool con_wait_enter(const char *prompt);
/* Polls standard input for up to ms milliseconds: 1 when a line can be
 * read, 0 on timeout, -1 on Ctrl-C or end of the session. */
int con_poll_input(int ms);

/* Reads pasted lines into a new buffer (*out, free() it) until a line that
 * is exactly "END", or, when end_prefix is given, through the first line
 * starting with end_prefix (the PEM "-----END" of a key). At most max bytes;
 * more is refused. An empty line or "q" before anything was pasted goes
 * back. Returns the length, or -1 (refused, back or aborted). */
long con_read_paste(const char *end_prefix, size_t max, char **out);

/* Asks for one setting with its label, what is accepted and the current
 * value; validates with settings_set() into s and asks again with the
 * validator's message until the answer is accepted. False to go back. */
bool con_ask_setting(struct settings *s, enum setting_id id);

/* ---- group.c ---- */

/* A question for one setting that may ask more (the address mode asks the
 * address when it is static): false to go back. */
typedef bool con_ask_fn(struct settings *s, enum setting_id id);

/* The group's settings with their values, one a line. */
void con_group_print(enum setting_group_id g, const struct settings *st);
/* Lists the group's settings numbered (none when it has one), asks which to
 * change and asks it: with ask when given, else con_ask_setting. False to
 * go back; st holds the accepted answers. */
bool con_group_change(enum setting_group_id g, struct settings *st, con_ask_fn *ask);
/* con_group_change on a copy of old, then the review with question and
 * one "settings" request. */
void con_group_edit(enum setting_group_id g, const struct settings *old, const char *question);

/* ---- load.c ---- */

/* Loads the settings (and secrets when sec is non-NULL), printing the error
 * when a file is unreadable. */
bool con_load(struct settings *st, struct secrets *sec);
/* Shows "label: old -> new" for each setting that differs; returns how many. */
int con_show_changes(const struct settings *old, const struct settings *now);
/* After an action's questions: the rules between fields (settings_check),
 * the changes shown, then question [y/N]. True when the request should be
 * sent; extra counts as a change that is not a setting (a new secret). */
bool con_review(const struct settings *old, const struct settings *now, bool extra,
                const char *question);
/* The address the Bitrix site and the wizard reach: the static address
 * without its prefix, else the current address from status; "" if none. */
void con_appliance_address(const struct settings *st, char *out, size_t outlen);

/* ---- send.c ---- */

/* Sends r (freed here on every path) to the apply service, waits for the
 * result and prints it step by step. True when every step succeeded;
 * *res (optional) receives the result. */
bool con_send(struct request *r, struct result *res);
/* A request with no arguments (rotate-key, reboot, ...). */
bool con_send_op(const char *op);
/* A request with one argument (password, ssh-key-add, factory-reset, ...). */
bool con_send_arg(const char *op, const char *key, const char *value);
/* Sends a "settings" request with every key of st. */
bool con_send_settings(const struct settings *st, struct result *res);
/* The same with one more argument key=value when value is not "" (a
 * secret that goes with the settings: OP_SETTINGS_HUB_PASSWORD). */
bool con_send_settings_secret(const struct settings *st, const char *key, const char *value,
                              struct result *res);

/* As con_send, waiting up to timeout seconds (an update install). */
bool con_send_within(struct request *r, double timeout, struct result *res);

/* ---- fetch.c ---- */

#define CON_URL_MAX 512
/* True for an http:// or https:// URL without spaces or control
 * characters, at most CON_URL_MAX bytes. */
bool con_url_valid(const char *url);
/* Downloads url with BusyBox wget (as the console's user) into out_fd: at
 * most max bytes (past them: err = too_large), within seconds in all. 0
 * (*got bytes), or -1 with err. */
int con_fetch(const char *url, int out_fd, unsigned long long max, const char *too_large,
              double seconds, unsigned long long *got, char *err, size_t errlen);

/* ---- scp.c ---- */

/* pullbox-console -c COMMAND (an SSH client's command): runs the server
 * side of scp into ~/updates or from the home folder, nothing else. Returns
 * only on a refusal or an error: the exit code. */
int con_scp_command(const char *cmd);

/* ---- run.c ---- */

/* Runs path with argv and envp (execve: no shell, no PATH search), its
 * output and errors on the console, and waits for it. Returns its exit
 * status, 128 + signal, or -1 if it could not be started. */
int con_run(const char *path, char *const argv[], char *const envp[]);

/* ---- header.c ---- */

/* The status header: version, address, uptime, services, connections,
 * messages per second. */
void con_print_header(void);
/* The screen shown before the appliance is claimed. */
void con_print_unclaimed(void);
bool con_is_claimed(void);

/* ---- menu.c ---- */
void menu_run(void);

/* ---- action_admin.c ---- */

/* Asks for the admin's current password; true if it is right. */
bool con_check_password(void);

/* ---- one file per menu item ---- */
void action_status(void);
void action_network(void);
void action_key(void);
void action_cert(void);
void action_firewall(void);
void action_services(void);
void action_logs(void);
void action_backup(void);
void action_bitrix(void);
void action_admin(void);
void action_factory_reset(void);
void action_power(void);
void action_shell(void);
void action_cluster(void);
void action_update(void);

#endif
