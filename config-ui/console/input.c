/* The console's only way to read the admin: one bounded line at a time with
 * read(2), one byte per call, so nothing beyond the line is swallowed (a
 * paste, or a shell started later, gets the rest). Signals only set flags;
 * the reader sees them because read(2) returns EINTR (no SA_RESTART). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "console.h"

volatile sig_atomic_t con_intr;
volatile sig_atomic_t con_quit;
volatile sig_atomic_t con_hangup;

static void on_intr(int sig)
{
    (void)sig;
    con_intr = 1;
}

static void on_quit(int sig)
{
    if (sig == SIGHUP)
        con_hangup = 1;
    con_quit = 1;
}

void con_signals_init(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_intr;
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_quit;
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    /* Ctrl-\ and Ctrl-Z would leave a stopped or dumped console on tty1 */
    sa.sa_handler = SIG_IGN;
    sigaction(SIGQUIT, &sa, NULL);
    sigaction(SIGTSTP, &sa, NULL);
    /* a dropped SSH connection: writes fail with EPIPE/EIO, reads see EOF */
    sigaction(SIGPIPE, &sa, NULL);
}

bool con_aborted(void)
{
    return con_intr || con_quit;
}

int con_poll_input(int ms)
{
    struct pollfd p = {.fd = 0, .events = POLLIN};
    if (con_aborted())
        return -1;
    int r = poll(&p, 1, ms);
    if (r < 0)
        return con_aborted() ? -1 : 0;
    if (r > 0 && (p.revents & (POLLHUP | POLLERR | POLLNVAL)) && !(p.revents & POLLIN)) {
        con_quit = 1;
        return -1;
    }
    return r > 0 ? 1 : 0;
}

enum line_status { LINE_OK, LINE_TOOLONG, LINE_CONTROL, LINE_ABORT, LINE_TIMEOUT };

/* Reads one line without its "\n" (and a "\r" before it, from pasted text).
 * deadline_ms < 0 waits for ever. Over-long lines are read to their end and
 * refused whole, never split into two answers. */
static enum line_status read_line(char *buf, size_t len, int deadline_ms)
{
    size_t n = 0;
    bool toolong = false, control = false;
    for (;;) {
        char c;
        if (deadline_ms >= 0 && n == 0) {
            int p = con_poll_input(deadline_ms);
            if (p < 0)
                return LINE_ABORT;
            if (p == 0)
                return LINE_TIMEOUT;
        }
        if (con_aborted())
            return LINE_ABORT;
        ssize_t r = read(0, &c, 1);
        if (r < 0 && errno == EINTR)
            continue; /* con_aborted() decides */
        if (r <= 0) {
            con_quit = con_hangup = 1; /* end of input: the session is gone */
            return LINE_ABORT;
        }
        if (c == '\n')
            break;
        if (n + 1 >= len) {
            toolong = true;
            continue;
        }
        buf[n++] = c;
    }
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    buf[n] = '\0';
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)buf[i] < 0x20 && buf[i] != '\t')
            control = true;
        else if ((unsigned char)buf[i] == 0x7f)
            control = true;
    if (toolong)
        return LINE_TOOLONG;
    return control ? LINE_CONTROL : LINE_OK;
}

static void trim(char *s)
{
    size_t n = strlen(s), i = 0;
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    while (s[i] == ' ' || s[i] == '\t')
        i++;
    memmove(s, s + i, n - i + 1);
}

#define ASK_EMPTY_OK (1u << 0) /* an empty answer is an answer */
#define ASK_RAW (1u << 1)      /* no trimming: spaces in a password count */

/* The common prompt loop. True with an answer, false to go back. */
static bool ask(const char *prompt, char *out, size_t outlen, unsigned flags, int deadline_ms,
                bool *timed_out)
{
    size_t cap = outlen; /* the caller's buffer is the bound (CON_LINE_MAX for most) */
    for (;;) {
        fputs(prompt, stdout);
        fflush(stdout);
        enum line_status st = read_line(out, cap, deadline_ms);
        switch (st) {
        case LINE_ABORT:
            out[0] = '\0';
            fputs("\n", stdout);
            return false;
        case LINE_TIMEOUT:
            out[0] = '\0';
            if (timed_out)
                *timed_out = true;
            fputs("\n", stdout);
            return false;
        case LINE_TOOLONG:
            printf("Too long: at most %zu characters. Try again, or q to go back.\n", cap - 1);
            continue;
        case LINE_CONTROL:
            printf("Control characters are not accepted. Try again, or q to go back.\n");
            continue;
        case LINE_OK:
            break;
        }
        if (!(flags & ASK_RAW))
            trim(out);
        if (strcmp(out, "q") == 0 || strcmp(out, "Q") == 0)
            return false;
        if (out[0] == '\0' && !(flags & ASK_EMPTY_OK))
            return false;
        return true;
    }
}

bool con_ask(const char *prompt, char *out, size_t outlen)
{
    return ask(prompt, out, outlen, 0, -1, NULL);
}

bool con_ask_secret(const char *prompt, char *out, size_t outlen)
{
    struct termios old, quiet;
    bool tty = tcgetattr(0, &old) == 0;
    if (tty) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        quiet.c_lflag |= ECHONL;       /* the Enter still moves to the next line */
        tcsetattr(0, TCSANOW, &quiet); /* TCSANOW: a pasted answer to the next prompt is kept */
    }
    bool r = ask(prompt, out, outlen, ASK_RAW, -1, NULL);
    if (tty)
        tcsetattr(0, TCSANOW, &old);
    return r;
}

static bool yes(const char *s)
{
    return strcmp(s, "y") == 0 || strcmp(s, "Y") == 0 || strcmp(s, "yes") == 0 ||
           strcmp(s, "YES") == 0 || strcmp(s, "Yes") == 0;
}

bool con_confirm(const char *question)
{
    char p[512], a[16];
    snprintf(p, sizeof p, "%s [y/N] ", question);
    return ask(p, a, sizeof a, 0, -1, NULL) && yes(a);
}

bool con_confirm_within(const char *question, int seconds, bool *timed_out)
{
    char p[512], a[16];
    *timed_out = false;
    snprintf(p, sizeof p, "%s [y/N] ", question);
    return ask(p, a, sizeof a, 0, seconds * 1000, timed_out) && yes(a);
}

bool con_ask_number(const char *prompt, int max, int *out)
{
    char a[32];
    while (ask(prompt, a, sizeof a, 0, -1, NULL)) {
        char *end;
        long v = strtol(a, &end, 10);
        if (*end == '\0' && v >= 1 && v <= max) {
            *out = (int)v;
            return true;
        }
        printf("Please type a number from 1 to %d, or q to go back.\n", max);
    }
    return false;
}

bool con_wait_enter(const char *prompt)
{
    char a[16];
    return ask(prompt, a, sizeof a, ASK_EMPTY_OK, -1, NULL);
}

long con_read_paste(const char *end_prefix, size_t max, char **out)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    char line[CON_LINE_MAX];
    bool toolong = false;
    if (!buf)
        return -1;
    for (;;) {
        enum line_status st = read_line(line, sizeof line, -1);
        if (st == LINE_ABORT) {
            free(buf);
            return -1;
        }
        if (st == LINE_TOOLONG || st == LINE_CONTROL) {
            printf("A pasted line is too long or holds control characters: refused.\n");
            free(buf);
            return -1;
        }
        trim(line);
        if (n == 0 && (line[0] == '\0' || strcmp(line, "q") == 0)) {
            free(buf); /* nothing pasted yet: the admin goes back */
            return -1;
        }
        if (strcmp(line, "END") == 0)
            break;
        size_t l = strlen(line);
        if (n + l + 2 > max) {
            toolong = true; /* keep reading to the end so the rest is not taken as answers */
            continue;
        }
        if (n + l + 2 > cap) {
            while (n + l + 2 > cap)
                cap *= 2;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                return -1;
            }
            buf = nb;
        }
        memcpy(buf + n, line, l);
        n += l;
        buf[n++] = '\n';
        buf[n] = '\0';
        if (end_prefix && strncmp(line, end_prefix, strlen(end_prefix)) == 0)
            break;
    }
    if (toolong) {
        printf("Too long: at most %zu bytes. Nothing was changed.\n", max);
        free(buf);
        return -1;
    }
    buf[n] = '\0';
    *out = buf;
    return (long)n;
}

bool con_ask_setting(struct settings *s, enum setting_id id)
{
    const struct setting_def *d = &setting_defs[id];
    char prompt[1600], answer[CON_LINE_MAX], err[SETTING_ERR_MAX];
    snprintf(prompt, sizeof prompt, "%s (%s)\n  now: %s\n  new: ", d->label, d->accepted,
             s->v[id][0] ? s->v[id] : "(empty)");
    for (;;) {
        if (!con_ask(prompt, answer, sizeof answer))
            return false;
        /* "none" clears a list that may be empty (no NTP servers) */
        if (d->may_be_empty && strcmp(answer, "none") == 0)
            answer[0] = '\0';
        if (settings_set(s, id, answer, err, sizeof err) == 0)
            return true;
        printf("%s\n", err);
    }
}
