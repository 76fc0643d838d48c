/* The self-test: what the Bitrix site checker does (docs/protocol.md §7.8), done
 * against the appliance's own ports with plain sockets, poll() deadlines
 * and OpenSSL for the TLS port, and every outcome said in words an admin
 * can act on. Each step opens its own connections and closes them; the
 * test channel is deleted afterwards. */
#include "selftest.h"

#include "certcheck.h"
#include "token.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

/* pullboxd's default paths (docs/protocol.md §1.1);
 * the appliance does not let the admin change them. */
#define ST_PATH_SUB "/bitrix/sub/"
#define ST_PATH_SUBWS "/bitrix/subws/"
#define ST_PATH_PUB "/bitrix/pub/"
#define ST_PATH_STAT "/server-stat/"

/* How long the long poll is given to register before the publish, as the
 * site checker's sleep(1), shortened: pullboxd registers it as soon as it
 * has read the request. */
#define ST_SUBSCRIBE_WAIT 0.3
#define ST_DEFAULT_TIMEOUT 5.0
#define ST_RESPONSE_MAX (64 * 1024)
#define ST_NO_ADDRESS (-1) /* st_connect: the host name does not resolve */
#define ST_WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/* ---- time ---- */

static double st_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Milliseconds left until deadline, for poll(); 0 once it has passed. */
static int st_ms_left(double deadline)
{
    double left = deadline - st_now();

    return left <= 0 ? 0 : (int)(left * 1000) + 1;
}

/* ---- connections: a socket, and TLS on it when ssl is set ---- */

struct st_conn {
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
    const char *host;
    int port;
};

static void st_close(struct st_conn *c)
{
    if (c->ssl) {
        SSL_shutdown(c->ssl); /* one try, no wait: the test is over */
        SSL_free(c->ssl);
    }
    SSL_CTX_free(c->ctx);
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->ssl = NULL;
    c->ctx = NULL;
}

/* "no answer on 127.0.0.1:8895: connection refused - is pullboxd running?
 * (Status page)" for an errno of connect() or ETIMEDOUT. */
static void st_no_answer(const struct st_conn *c, int err, double timeout, char *out, size_t outlen)
{
    char why[128];

    if (err == ST_NO_ADDRESS) {
        snprintf(out, outlen,
                 "no answer on %s:%d: the name %s does not resolve to an address "
                 "(check the name and the DNS servers)",
                 c->host, c->port, c->host);
        return;
    }
    if (err == ETIMEDOUT) {
        snprintf(out, outlen,
                 "no answer on %s:%d within %g s - is pullboxd running, or is a firewall in the "
                 "way? (Status page)",
                 c->host, c->port, timeout);
        return;
    }
    snprintf(why, sizeof why, "%s", strerror(err));
    if (why[0] >= 'A' && why[0] <= 'Z')
        why[0] = (char)(why[0] - 'A' + 'a');
    snprintf(out, outlen, "no answer on %s:%d: %s - is pullboxd running? (Status page)", c->host,
             c->port, why);
}

/* Connects within the deadline. Returns 0, or an errno (ETIMEDOUT,
 * ECONNREFUSED, EHOSTUNREACH, ...), or ST_NO_ADDRESS when the host does
 * not resolve. */
static int st_connect(struct st_conn *c, const char *host, int port, double deadline)
{
    struct addrinfo hints, *res = NULL, *ai;
    char portstr[16];
    int err = ST_NO_ADDRESS;

    memset(c, 0, sizeof *c);
    c->fd = -1;
    c->host = host;
    c->port = port;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    snprintf(portstr, sizeof portstr, "%d", port);
    if (getaddrinfo(host, portstr, &hints, &res) != 0)
        return ST_NO_ADDRESS;
    for (ai = res; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        int one = 1;
        socklen_t len = sizeof err;

        if (fd < 0) {
            err = errno;
            continue;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            c->fd = fd;
            err = 0;
            break;
        }
        err = errno;
        if (err == EINPROGRESS) {
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            int r;

            do
                r = poll(&p, 1, st_ms_left(deadline));
            while (r < 0 && errno == EINTR);
            if (r == 0)
                err = ETIMEDOUT;
            else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
                err = errno;
            if (err == 0) {
                c->fd = fd;
                break;
            }
        }
        close(fd);
    }
    freeaddrinfo(res);
    return err;
}

/* Waits until fd is ready for events or the deadline. 1 ready, 0 timeout. */
static int st_wait(int fd, short events, double deadline)
{
    struct pollfd p = {.fd = fd, .events = events};
    int r;

    do
        r = poll(&p, 1, st_ms_left(deadline));
    while (r < 0 && errno == EINTR);
    return r > 0;
}

/* The TLS handshake, certificate not verified: the point is that the port
 * speaks TLS, whatever certificate the admin installed. Returns 0, or -1
 * with why filled. */
static int st_tls_handshake(struct st_conn *c, double deadline, char *why, size_t whylen)
{
    unsigned char tmp[16];

    c->ctx = SSL_CTX_new(TLS_client_method());
    c->ssl = c->ctx ? SSL_new(c->ctx) : NULL;
    if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1) {
        snprintf(why, whylen, "cannot set up TLS (libssl)");
        return -1;
    }
    SSL_set_verify(c->ssl, SSL_VERIFY_NONE, NULL);
    /* SNI only for names: an address in SNI is not allowed (RFC 6066) */
    if (inet_pton(AF_INET, c->host, tmp) != 1 && inet_pton(AF_INET6, c->host, tmp) != 1)
        SSL_set_tlsext_host_name(c->ssl, c->host);
    for (;;) {
        int r = SSL_connect(c->ssl), e;

        if (r == 1)
            return 0;
        e = SSL_get_error(c->ssl, r);
        if ((e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) &&
            st_wait(c->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline))
            continue;
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            snprintf(why, whylen, "the TLS handshake on %s:%d did not finish in time", c->host,
                     c->port);
        else if (ERR_GET_REASON(ERR_peek_last_error()) == SSL_R_WRONG_VERSION_NUMBER ||
                 ERR_GET_REASON(ERR_peek_last_error()) == SSL_R_PACKET_LENGTH_TOO_LONG)
            snprintf(why, whylen,
                     "the TLS handshake on %s:%d failed: the port answered in "
                     "plain text, not TLS (is it the right port?)",
                     c->host, c->port);
        else if (ERR_peek_last_error() && ERR_reason_error_string(ERR_peek_last_error()))
            snprintf(why, whylen, "the TLS handshake on %s:%d failed: %s", c->host, c->port,
                     ERR_reason_error_string(ERR_peek_last_error()));
        else
            snprintf(why, whylen,
                     "the TLS handshake on %s:%d failed: the connection was closed "
                     "(is this port serving TLS?)",
                     c->host, c->port);
        ERR_clear_error();
        return -1;
    }
}

/* Sends all of data before the deadline. 0 or -1. */
static int st_send(struct st_conn *c, const void *data, size_t len, double deadline)
{
    const char *p = data;

    while (len > 0) {
        ssize_t n;

        if (c->ssl) {
            int r = SSL_write(c->ssl, p, (int)len), e;

            if (r > 0) {
                n = r;
            } else {
                e = SSL_get_error(c->ssl, r);
                if ((e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) &&
                    st_wait(c->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline))
                    continue;
                ERR_clear_error();
                return -1;
            }
        } else {
            n = send(c->fd, p, len, MSG_NOSIGNAL);
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
                if (!st_wait(c->fd, POLLOUT, deadline))
                    return -1;
                continue;
            }
            if (n < 0)
                return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Reads what is available (waiting until the deadline for the first byte).
 * Returns the count, 0 at the end of the stream, -1 on error, -2 when the
 * deadline passed. */
static ssize_t st_recv(struct st_conn *c, void *buf, size_t len, double deadline)
{
    for (;;) {
        if (c->ssl) {
            int r = SSL_read(c->ssl, buf, (int)len), e;

            if (r > 0)
                return r;
            e = SSL_get_error(c->ssl, r);
            if (e == SSL_ERROR_ZERO_RETURN)
                return 0;
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                if (!st_wait(c->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline))
                    return -2;
                continue;
            }
            ERR_clear_error();
            /* a peer that closes without close_notify, as HTTP/1.0 servers
             * do: the end of the answer */
            return e == SSL_ERROR_SYSCALL ? 0 : -1;
        } else {
            ssize_t n = recv(c->fd, buf, len, 0);

            if (n >= 0)
                return n;
            if (errno != EAGAIN && errno != EINTR)
                return -1;
            if (!st_wait(c->fd, POLLIN, deadline))
                return -2;
        }
    }
}

/* ---- HTTP ---- */

struct st_resp {
    char data[ST_RESPONSE_MAX + 1]; /* NUL-terminated */
    size_t len;
    int status;      /* 0 until a status line was read */
    size_t body_off; /* where the body starts, once the head is complete */
};

/* Reads into r until the end of the stream, the deadline, a full buffer,
 * or until needle appears (needle may be NULL). Returns 1 when needle was
 * found, 0 at the end of the stream or a full buffer, -2 on timeout, -1 on
 * error. */
static int st_read_until(struct st_conn *c, struct st_resp *r, const char *needle, double deadline)
{
    for (;;) {
        ssize_t n;
        const char *head_end;

        if (needle && memmem(r->data, r->len, needle, strlen(needle)))
            return 1;
        if (r->len == ST_RESPONSE_MAX)
            return 0;
        n = st_recv(c, r->data + r->len, ST_RESPONSE_MAX - r->len, deadline);
        if (n <= 0)
            return (int)n;
        r->len += (size_t)n;
        r->data[r->len] = '\0';
        if (!r->status && sscanf(r->data, "HTTP/%*d.%*d %d", &r->status) != 1)
            r->status = 0;
        head_end = r->body_off ? NULL : memmem(r->data, r->len, "\r\n\r\n", 4);
        if (head_end)
            r->body_off = (size_t)(head_end - r->data) + 4;
    }
}

static void st_resp_reset(struct st_resp *r)
{
    r->data[0] = '\0';
    r->len = 0;
    r->status = 0;
    r->body_off = 0;
}

static const char *st_body(const struct st_resp *r)
{
    return r->body_off ? r->data + r->body_off : "";
}

/* One HTTP/1.0 request (the server closes after answering) and its whole
 * answer. Returns 0 with r filled, or -1 with why in words. */
static int st_http(const char *host, int port, const char *method, const char *target,
                   const char *body, double timeout, struct st_resp *r, char *why, size_t whylen)
{
    struct st_conn c;
    char head[1024];
    double deadline = st_now() + timeout;
    int err, n, rc;

    st_resp_reset(r);
    err = st_connect(&c, host, port, deadline);
    if (err) {
        st_no_answer(&c, err, timeout, why, whylen);
        return -1;
    }
    n = snprintf(head, sizeof head,
                 "%s %s HTTP/1.0\r\nHost: %s:%d\r\nUser-Agent: pullbox-selftest\r\n"
                 "Content-Length: %zu\r\n\r\n",
                 method, target, host, port, body ? strlen(body) : 0);
    if (n < 0 || (size_t)n >= sizeof head || st_send(&c, head, (size_t)n, deadline) != 0 ||
        (body && st_send(&c, body, strlen(body), deadline) != 0)) {
        snprintf(why, whylen, "%s:%d closed the connection before the request was sent", host,
                 port);
        st_close(&c);
        return -1;
    }
    rc = st_read_until(&c, r, NULL, deadline);
    st_close(&c);
    if (rc == -2 && !r->body_off) {
        st_no_answer(&c, ETIMEDOUT, timeout, why, whylen);
        return -1;
    }
    if (!r->status) {
        snprintf(why, whylen, "%s:%d did not answer with HTTP (is it pullboxd?)", host, port);
        return -1;
    }
    return 0;
}

int selftest_http(const char *host, int port, const char *method, const char *target,
                  const char *body, double timeout, char **out, size_t *outlen, int *status,
                  char *err, size_t errlen)
{
    struct st_resp *r = malloc(sizeof *r);
    size_t blen;

    *out = NULL;
    *outlen = 0;
    *status = 0;
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (st_http(host, port, method, target, body, timeout, r, err, errlen) != 0) {
        free(r);
        return -1;
    }
    *status = r->status;
    blen = r->len - (r->body_off ? r->body_off : r->len);
    *out = malloc(blen + 1);
    if (!*out) {
        free(r);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    memcpy(*out, st_body(r), blen);
    (*out)[blen] = '\0';
    *outlen = blen;
    free(r);
    return 0;
}

/* ---- the test channel ---- */

struct st_channel {
    char id[33];                  /* 32 hex, as PHP's md5 */
    char signed_id[33 + 1 + 129]; /* id "." hex(HMAC(key, id)) */
    char message[33];             /* the text published, found in the answers */
};

static int st_channel_new(const struct selftest_opts *o, struct st_channel *ch)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    const EVP_MD *md =
        o->signature_algo && strcmp(o->signature_algo, "sha256") == 0 ? EVP_sha256() : EVP_sha1();
    const char *key = o->signature_key ? o->signature_key : "";
    char hex[2 * EVP_MAX_MD_SIZE + 1];

    if (token_hex(ch->id, 16) != 0 || token_hex(ch->message, 16) != 0)
        return -1;
    /* the signed form of server/src/sign.c: "<id>.<hex hmac of id>" */
    if (!HMAC(md, key[0] ? key : "-", key[0] ? (int)strlen(key) : 0, (unsigned char *)ch->id, 32,
              mac, &maclen))
        return -1;
    token_to_hex(mac, maclen, hex);
    snprintf(ch->signed_id, sizeof ch->signed_id, "%s.%s", ch->id, hex);
    return 0;
}

/* Publishes the channel's message as the Bitrix site does (text POST to
 * the trusted publish path) and checks the answer is what the site checker
 * can decode: empty or one JSON object. 0 or -1 with why. */
static int st_publish(const struct selftest_opts *o, const struct st_channel *ch, double timeout,
                      char *why, size_t whylen)
{
    struct st_resp *r = malloc(sizeof *r);
    char target[128];
    const char *b;
    size_t blen;
    int rc = -1;

    if (!r) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    snprintf(target, sizeof target, ST_PATH_PUB "?CHANNEL_ID=%s", ch->id);
    if (st_http(o->host, o->publish_port, "POST", target, ch->message, timeout, r, why, whylen) !=
        0)
        goto done;
    b = st_body(r);
    b += strspn(b, " \t\r\n");
    blen = strlen(b);
    while (blen && strchr(" \t\r\n", b[blen - 1]))
        blen--;
    if (r->status != 200) {
        snprintf(why, whylen, "publishing to %s:%d failed: the queue server answered HTTP %d %.80s",
                 o->host, o->publish_port, r->status, b);
        goto done;
    }
    if (blen && (b[0] != '{' || b[blen - 1] != '}')) {
        snprintf(why, whylen,
                 "publishing answered \"%.40s\", which the Bitrix site cannot read "
                 "(it expects nothing or JSON)",
                 b);
        goto done;
    }
    rc = 0;
done:
    free(r);
    return rc;
}

/* Removes the test channel (its history), as the site checker does; the
 * answer does not matter. */
static void st_delete(const struct selftest_opts *o, const struct st_channel *ch, double timeout)
{
    struct st_resp *r = malloc(sizeof *r);
    char target[128], why[256];

    if (!r)
        return;
    snprintf(target, sizeof target, ST_PATH_PUB "?CHANNEL_ID=%s", ch->id);
    st_http(o->host, o->publish_port, "DELETE", target, NULL, timeout, r, why, sizeof why);
    free(r);
}

/* The words for a subscription the queue server refused. code is the
 * Bitrix close/status code when known (4010), else the HTTP status. */
static void st_refused(int code, const char *body, char *out, size_t outlen)
{
    if (code == 4010 || strstr(body, "4010"))
        snprintf(out, outlen,
                 "the signing key of this appliance does not match the running queue server (it "
                 "answered 4010 Wrong Channel Id): restart pullboxd on the Services page so it "
                 "loads the current key");
    else
        snprintf(out, outlen, "the queue server refused the subscription: HTTP %d %.80s", code,
                 body);
}

/* ---- steps ---- */

__attribute__((format(printf, 3, 4))) static void st_step(struct selftest_step *s, bool ok,
                                                          const char *fmt, ...)
{
    va_list ap;

    s->ok = ok;
    va_start(ap, fmt);
    vsnprintf(s->detail, sizeof s->detail, fmt, ap);
    va_end(ap);
}

static void st_step_publish_port(const struct selftest_opts *o, double timeout,
                                 struct selftest_step *s)
{
    struct st_resp *r = malloc(sizeof *r);
    char why[256];
    double t0 = st_now();

    snprintf(s->what, sizeof s->what, "The publish port %d answers", o->publish_port);
    if (!r) {
        st_step(s, false, "out of memory");
        return;
    }
    if (st_http(o->host, o->publish_port, "GET", ST_PATH_STAT, NULL, timeout, r, why, sizeof why) !=
        0)
        st_step(s, false, "%s", why);
    else if (r->status != 200)
        st_step(s, false, "%s:%d answered HTTP %d to GET " ST_PATH_STAT ": is it pullboxd?",
                o->host, o->publish_port, r->status);
    else
        st_step(s, true, "answered in %.0f ms", (st_now() - t0) * 1000);
    free(r);
}

/* The long-poll round trip of the site checker on conn c (plain or TLS,
 * already connected). Fills s; returns true when delivered. */
static bool st_longpoll_on(const struct selftest_opts *o, struct st_conn *c, double timeout,
                           struct selftest_step *s)
{
    struct st_channel ch;
    struct st_resp *r = malloc(sizeof *r);
    char req[512], date[64], why[256];
    double deadline = st_now() + timeout, t0;
    time_t now = time(NULL);
    struct tm tm;
    int rc, n;
    bool delivered = false;

    if (!r || st_channel_new(o, &ch) != 0) {
        st_step(s, false, "cannot make a test channel (no random numbers or memory)");
        free(r);
        return false;
    }
    st_resp_reset(r);
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    n = snprintf(req, sizeof req,
                 "GET " ST_PATH_SUB "?CHANNEL_ID=%s HTTP/1.0\r\nHost: %s:%d\r\n"
                 "If-Modified-Since: %s\r\nUser-Agent: pullbox-selftest\r\n\r\n",
                 ch.signed_id, c->host, c->port, date);
    if (n < 0 || (size_t)n >= sizeof req || st_send(c, req, (size_t)n, deadline) != 0) {
        st_step(s, false, "%s:%d closed the connection before the request was sent", c->host,
                c->port);
        goto done;
    }
    /* A subscription that is refused is answered at once: wait for that as
     * long as the registration takes, then publish. */
    rc = st_read_until(c, r, NULL, st_now() + ST_SUBSCRIBE_WAIT);
    if (rc != -2) {
        if (r->status && r->status != 200)
            st_refused(r->status == 400 && strstr(st_body(r), "4010") ? 4010 : r->status,
                       st_body(r), why, sizeof why);
        else if (r->len == 0)
            snprintf(why, sizeof why, "the queue server closed the long poll at once");
        else
            snprintf(why, sizeof why,
                     "the long poll was answered before anything was published (HTTP %d)",
                     r->status);
        st_step(s, false, "%s", why);
        goto done;
    }
    t0 = st_now();
    if (st_publish(o, &ch, timeout, why, sizeof why) != 0) {
        st_step(s, false, "%s", why);
        goto done;
    }
    rc = st_read_until(c, r, ch.message, t0 + timeout);
    if (rc == 1) {
        st_step(s, true, "delivered in %.0f ms", (st_now() - t0) * 1000);
        delivered = true;
    } else if (r->status && r->status != 200) {
        st_refused(r->status, st_body(r), why, sizeof why);
        st_step(s, false, "%s", why);
    } else if (rc == -2) {
        st_step(s, false, "the message was published but not delivered within %g s", timeout);
    } else {
        st_step(s, false, "the long poll was answered without the message (HTTP %d, %zu bytes)",
                r->status, r->len - (r->body_off ? r->body_off : r->len));
    }
done:
    st_delete(o, &ch, 1.0);
    free(r);
    return delivered;
}

static void st_step_longpoll(const struct selftest_opts *o, double timeout, struct selftest_step *s)
{
    struct st_conn c;
    int err;

    snprintf(s->what, sizeof s->what, "Long polling on port %d receives a published message",
             o->subscribe_port);
    err = st_connect(&c, o->host, o->subscribe_port, st_now() + timeout);
    if (err) {
        st_no_answer(&c, err, timeout, s->detail, sizeof s->detail);
        s->ok = false;
        return;
    }
    st_longpoll_on(o, &c, timeout, s);
    st_close(&c);
}

/* "CN=pullbox, O=Pullbox, valid until 2036-11-27 03:00 UTC" of the peer's
 * certificate, through the certificate checks of certcheck.c. */
static void st_describe_cert(SSL *ssl, char *out, size_t outlen)
{
    X509 *x = SSL_get1_peer_certificate(ssl);
    BIO *b = BIO_new(BIO_s_mem());
    struct cert_report *rep = malloc(sizeof *rep);
    char *pem;
    long n;

    snprintf(out, outlen, "no certificate");
    if (x && b && rep && PEM_write_bio_X509(b, x) == 1 && (n = BIO_get_mem_data(b, &pem)) > 0) {
        char *text = strndup(pem, (size_t)n);

        if (text) {
            cert_check(text, NULL, NULL, NULL, (long long)time(NULL), rep);
            if (strstr(rep->error, "expired"))
                snprintf(out, outlen, "certificate %.100s, EXPIRED on %s", rep->subject,
                         rep->not_after);
            else
                snprintf(out, outlen, "certificate %.100s, valid until %s", rep->subject,
                         rep->not_after);
            free(text);
        }
    }
    free(rep);
    BIO_free(b);
    X509_free(x);
}

static void st_step_tls(const struct selftest_opts *o, double timeout, struct selftest_step *s)
{
    struct st_conn c;
    double deadline = st_now() + timeout;
    char cert[200];
    int err;

    snprintf(s->what, sizeof s->what, "TLS on port %d: handshake and long polling",
             o->subscribe_tls_port);
    err = st_connect(&c, o->host, o->subscribe_tls_port, deadline);
    if (err) {
        st_no_answer(&c, err, timeout, s->detail, sizeof s->detail);
        s->ok = false;
        return;
    }
    if (st_tls_handshake(&c, deadline, s->detail, sizeof s->detail) != 0) {
        s->ok = false;
        st_close(&c);
        return;
    }
    st_describe_cert(c.ssl, cert, sizeof cert);
    if (st_longpoll_on(o, &c, timeout, s)) {
        char delivered[sizeof s->detail];

        memcpy(delivered, s->detail, sizeof delivered);
        st_step(s, true, "%s over TLS; %s", delivered, cert);
    }
    st_close(&c);
}

/* ---- WebSocket ---- */

/* Reads one frame from the buffered stream (r holds bytes already read
 * after the handshake). Returns the opcode with the payload (*payload,
 * *plen) pointing into r->data, -2 on timeout, -1 on error or end of stream. The frame is
 * consumed before the next call. */
static int st_ws_frame(struct st_conn *c, struct st_resp *r, size_t *pos, const char **payload,
                       size_t *plen, double deadline)
{
    for (;;) {
        const unsigned char *p = (const unsigned char *)r->data + *pos;
        size_t avail = r->len - *pos, hl = 2, len;
        ssize_t n;

        if (avail >= 2) {
            len = p[1] & 0x7f;
            if (len == 126)
                hl = 4;
            else if (len == 127)
                hl = 10;
            if (p[1] & 0x80)
                hl += 4; /* a server must not mask, but skip the key if it does */
            if (avail >= hl) {
                if (len == 126)
                    len = (size_t)p[2] << 8 | p[3];
                else if (len == 127) {
                    len = 0;
                    for (int i = 2; i < 10; i++)
                        len = len << 8 | p[i];
                }
                if (len > ST_RESPONSE_MAX)
                    return -1;
                if (avail >= hl + len) {
                    *payload = (const char *)p + hl;
                    *plen = len;
                    *pos += hl + len;
                    return p[0] & 0x0f;
                }
            }
        }
        /* move the partial frame to the front to make room */
        memmove(r->data, r->data + *pos, avail);
        r->len = avail;
        *pos = 0;
        if (r->len == ST_RESPONSE_MAX)
            return -1;
        n = st_recv(c, r->data + r->len, ST_RESPONSE_MAX - r->len, deadline);
        if (n <= 0)
            return n == -2 ? -2 : -1;
        r->len += (size_t)n;
    }
}

/* The client's close frame (masked, as RFC 6455 requires of clients). */
static void st_ws_close(struct st_conn *c, double deadline)
{
    unsigned char f[8] = {0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8}; /* 1000, mask 0 */

    st_send(c, f, sizeof f, deadline);
}

/* Sends the upgrade request and checks the answer (101 and the accept
 * value, RFC 6455 4.2.2). 0, or -1 with s filled. */
static int st_ws_handshake(struct st_conn *c, const struct st_channel *ch, struct st_resp *r,
                           double deadline, struct selftest_step *s)
{
    unsigned char nonce[16], sha[20];
    char key[32], want[64], req[768], cat[128];
    const char *acc;
    int n, rc;

    if (token_random(nonce, sizeof nonce) != 0) {
        st_step(s, false, "cannot read random numbers");
        return -1;
    }
    EVP_EncodeBlock((unsigned char *)key, nonce, sizeof nonce);
    snprintf(cat, sizeof cat, "%s" ST_WS_GUID, key);
    EVP_Digest(cat, strlen(cat), sha, NULL, EVP_sha1(), NULL);
    EVP_EncodeBlock((unsigned char *)want, sha, sizeof sha);
    n = snprintf(req, sizeof req,
                 "GET " ST_PATH_SUBWS "?CHANNEL_ID=%s HTTP/1.1\r\nHost: %s:%d\r\n"
                 "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                 "Sec-WebSocket-Version: 13\r\nUser-Agent: pullbox-selftest\r\n\r\n",
                 ch->signed_id, c->host, c->port, key);
    if (n < 0 || (size_t)n >= sizeof req || st_send(c, req, (size_t)n, deadline) != 0) {
        st_step(s, false, "%s:%d closed the connection before the request was sent", c->host,
                c->port);
        return -1;
    }
    rc = st_read_until(c, r, "\r\n\r\n", deadline);
    if (rc != 1) {
        st_step(s, false, "no answer to the WebSocket upgrade within the time limit");
        return -1;
    }
    if (r->status != 101) {
        char why[256];

        st_refused(r->status, st_body(r), why, sizeof why);
        st_step(s, false, "the WebSocket upgrade was refused: %s", why);
        return -1;
    }
    /* the accept header of the head, matched case-insensitively */
    acc = strcasestr(r->data, "\r\nSec-WebSocket-Accept:");
    if (acc && acc < r->data + r->body_off)
        acc += 23 + strspn(acc + 23, " \t");
    else
        acc = NULL;
    if (!acc || strncmp(acc, want, strlen(want)) != 0 || !strchr("\r \t", acc[strlen(want)])) {
        st_step(s, false,
                "the WebSocket upgrade answered a wrong Sec-WebSocket-Accept (is a "
                "proxy in the way?)");
        return -1;
    }
    return 0;
}

static void st_step_websocket(const struct selftest_opts *o, double timeout,
                              struct selftest_step *s)
{
    struct st_conn c;
    struct st_channel ch;
    struct st_resp *r = malloc(sizeof *r);
    double deadline = st_now() + timeout, t0;
    char why[256];
    size_t pos;
    int err;

    snprintf(s->what, sizeof s->what, "WebSocket on port %d receives a published message",
             o->subscribe_port);
    if (!r || st_channel_new(o, &ch) != 0) {
        st_step(s, false, "cannot make a test channel (no random numbers or memory)");
        free(r);
        return;
    }
    st_resp_reset(r);
    err = st_connect(&c, o->host, o->subscribe_port, deadline);
    if (err) {
        st_no_answer(&c, err, timeout, s->detail, sizeof s->detail);
        s->ok = false;
        goto done;
    }
    if (st_ws_handshake(&c, &ch, r, deadline, s) != 0)
        goto done;
    pos = r->body_off; /* frames may have come with the head */
    t0 = st_now();
    if (st_publish(o, &ch, timeout, why, sizeof why) != 0) {
        st_step(s, false, "%s", why);
        goto done;
    }
    for (int frames = 0; frames < 64; frames++) {
        const char *payload;
        size_t plen;
        int op = st_ws_frame(&c, r, &pos, &payload, &plen, t0 + timeout);

        if (op == -2) {
            st_step(s, false, "the message was published but not delivered within %g s", timeout);
            break;
        }
        if (op < 0) {
            st_step(s, false, "the WebSocket connection was closed without a message");
            break;
        }
        if (op == 8) {
            int code =
                plen >= 2 ? ((unsigned char)payload[0] << 8 | (unsigned char)payload[1]) : 1005;

            st_refused(code, "", why, sizeof why);
            if (code != 4010)
                snprintf(why, sizeof why, "the queue server closed the WebSocket (code %d)", code);
            st_step(s, false, "%s", why);
            break;
        }
        if ((op == 1 || op == 0) && memmem(payload, plen, ch.message, 32)) {
            st_step(s, true, "delivered in %.0f ms", (st_now() - t0) * 1000);
            st_ws_close(&c, st_now() + 0.5);
            break;
        }
    }
done:
    st_close(&c);
    st_delete(o, &ch, 1.0);
    free(r);
}

/* ---- entry ---- */

size_t selftest_run(const struct selftest_opts *o, struct selftest_step *steps, size_t max)
{
    double timeout = o->timeout > 0 ? o->timeout : ST_DEFAULT_TIMEOUT;
    struct sigaction ign, old;
    size_t n = 0;

    /* A peer that closes while TLS writes would raise SIGPIPE (libssl
     * writes with write(2)); the tools are single-threaded, so ignoring it
     * for the duration of the test is enough. */
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ign, &old);

    memset(steps, 0, max * sizeof *steps);
    if (n < max)
        st_step_publish_port(o, timeout, &steps[n++]);
    if (n < max)
        st_step_longpoll(o, timeout, &steps[n++]);
    if (n < max)
        st_step_websocket(o, timeout, &steps[n++]);
    if (n < max && o->subscribe_tls_port > 0)
        st_step_tls(o, timeout, &steps[n++]);

    sigaction(SIGPIPE, &old, NULL);
    return n;
}
