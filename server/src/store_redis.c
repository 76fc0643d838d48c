#include "first.h"

#include "store.h"
#include "cluster.h"
#include "log.h"
#include "mid.h"
#include "msg.h"
#include "redis_conn.h"
#include "server.h"
#include "stats.h"
#include "util.h"

#include <hiredis/hiredis.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The Redis store: several pullboxd nodes sharing one Redis act as one
 * server.
 *
 * Fan-out is one cluster channel (`<prefix>feed`) that every node
 * subscribes to, not one pub/sub channel per Bitrix channel. Bitrix
 * subscribers each listen on their own private channel, so per-channel
 * subscriptions would mean a SUBSCRIBE/UNSUBSCRIBE round trip for every
 * long poll (a client reconnects after every message) and a Redis
 * subscription table as large as the user base, while saving only the
 * bytes of messages nobody on a node wants; with one feed, a node's
 * subscription never changes and the publish script PUBLISHes once.
 *
 * A publish is one Lua script (atomic): it INCRs the cluster-wide counter
 * (mid = the cluster's start time, fixed once in Redis like Push server
 * 2.0's, plus the counter), keeps the message for catch-up (a key per
 * message with its expiry; a sorted set per channel scored by counter,
 * capped at history-length, living message-ttl), and PUBLISHes the record
 * on the feed. Redis runs scripts one at a time and delivers pub/sub in
 * order, so every node sees the feed in mid order. Every node, the
 * publishing one too, delivers to its subscribers from the feed; the HTTP
 * answer waits for the script's reply, i.e. until Redis has the message.
 *
 * Catch-up: each node's channel histories hold what it received from the
 * feed. From the moment the subscription is confirmed, the node asks Redis
 * for the current counter (`cover`): a client resuming with a mid at or
 * above it is served from memory; an older mid (a client coming from
 * another node, or from before this node started) is read from Redis
 * asynchronously, the client's live messages waiting behind it. A gap in
 * the feed's counters (the subscription dropped while others published)
 * ends the local subscriptions so that clients resume by mid.
 *
 * Faults: while the command connection is down, or redis-max-inflight
 * publishes wait for Redis, publishes answer 503 at once; a Redis that
 * does not reply within redis-timeout loses the connection, the waiting
 * publishes answer 503 (Redis may still have run them: 503 means "not
 * confirmed"), and it reconnects with backoff. Local subscribers are
 * served throughout.
 *
 * The nodes also tell each other, on the same feed, who is subscribed
 * where and their /server-stat/ figures (cluster.h), so that channel stats,
 * last seen and /server-stat/ speak for the whole cluster. */

#define RS_HEAD (MSG_MID_LEN + 10) /* mid and created, put in front by the script */
#define RS_FEED_CATCHUP 1.0        /* seconds the feed has to bring what the counter shows */

/* One script call publishes every message a loop turn collected (a batch):
 * one INCRBY for their mids, their keys, and one PUBLISH of them all ('B',
 * then per record its length in 10 digits and the record), so Redis runs
 * one script and each node reads one feed message per batch, not per
 * message. KEYS: counter, start, then each message's channel keys. ARGV:
 * prefix, history-length, message-ttl, feed, count, redis-client-memory in
 * bytes, then per message its expiry, its number of channel keys, 1 when a
 * client sent it, and its tail. Returns the mids.
 *
 * Client messages are also listed in <prefix>client (member "mid:cost",
 * scored by counter) and their costs summed in <prefix>client_bytes: beyond
 * redis-client-memory the oldest lose their keys (the channels' sets keep
 * the mid, which a catch-up then skips), so clients cannot fill Redis and
 * make the site's publishes fail. Keys that expired on their own stay
 * counted until they are popped: the sum only overstates what is held. */
static const char publish_lua[] =
    "local now = tonumber(redis.call('TIME')[1])\n"
    "local start = redis.call('GET', KEYS[2])\n"
    "if not start then\n"
    "  start = now\n"
    "  redis.call('SET', KEYS[2], start)\n"
    "end\n"
    "local count, hist, ttl = tonumber(ARGV[5]), tonumber(ARGV[2]), ARGV[3]\n"
    "local n = redis.call('INCRBY', KEYS[1], count) - count\n"
    "local epoch, stamp = tonumber(start), string.format('%010d', now)\n"
    "local cbudget, ckey, cbytes = tonumber(ARGV[6]), ARGV[1] .. 'client', ARGV[1] .. "
    "'client_bytes'\n"
    "local k, a, mids, feed = 3, 7, {}, {'B'}\n"
    "for j = 1, count do\n"
    "  n = n + 1\n"
    "  local expiry, nk = tonumber(ARGV[a]), tonumber(ARGV[a + 1])\n"
    "  local client = ARGV[a + 2] == '1'\n"
    "  local mid = string.format('%010d%016d', epoch, n)\n"
    "  local rec = mid .. stamp .. ARGV[a + 3]\n"
    "  if expiry > 0 and hist > 0 and not (client and cbudget == 0) then\n"
    "    redis.call('SET', ARGV[1] .. 'msg:' .. mid, rec, 'EX', expiry)\n"
    "    for i = k, k + nk - 1 do\n"
    "      redis.call('ZADD', KEYS[i], n, mid)\n"
    "      redis.call('ZREMRANGEBYRANK', KEYS[i], 0, -hist - 1)\n"
    "      redis.call('EXPIRE', KEYS[i], ttl)\n"
    "    end\n"
    "    if client then\n"
    "      local cost = #rec + 100\n"
    "      redis.call('ZADD', ckey, n, mid .. ':' .. cost)\n"
    "      local used = redis.call('INCRBY', cbytes, cost)\n"
    "      while used > cbudget do\n"
    "        local old = redis.call('ZPOPMIN', ckey)\n"
    "        if #old == 0 then break end\n"
    "        local om, oc = string.match(old[1], '^(%d+):(%d+)$')\n"
    "        redis.call('DEL', ARGV[1] .. 'msg:' .. om)\n"
    "        used = redis.call('DECRBY', cbytes, tonumber(oc))\n"
    "      end\n"
    "    end\n"
    "  end\n"
    "  k, a = k + nk, a + 4\n"
    "  mids[j] = mid\n"
    "  feed[#feed + 1] = string.format('%010d', #rec)\n"
    "  feed[#feed + 1] = rec\n"
    "end\n"
    "redis.call('PUBLISH', ARGV[4], table.concat(feed))\n"
    "return mids\n";

/* newest `per channel` of each channel newer than the mid, merged, the
 * newest `in all`, oldest first; a mid of an older cluster start (Redis
 * lost its data) gets everything. A mid the cluster never issued (of a
 * newer start, or above the counter: forged) is unknown: everything too,
 * after a first element "unknown" that tells the node so. */
static const char fetch_lua[] =
    "local start = redis.call('GET', KEYS[1])\n"
    "if not start then return {} end\n"
    "local epoch = tonumber(string.sub(ARGV[2], 1, 10))\n"
    "local after = string.sub(ARGV[2], 11)\n"
    "local top = tonumber(redis.call('GET', KEYS[2]) or '0')\n"
    "local seen, mids, out = {}, {}, {}\n"
    "if epoch > tonumber(start) or (epoch == tonumber(start) and tonumber(after) > top) then\n"
    "  out[1] = 'unknown'; after = '0'\n"
    "elseif epoch < tonumber(start) then after = '0' end\n"
    "for i = 3, #KEYS do\n"
    "  local r = redis.call('ZREVRANGEBYSCORE', KEYS[i], '+inf', '(' .. after, 'LIMIT', 0, "
    "ARGV[3])\n"
    "  for _, m in ipairs(r) do\n"
    "    if not seen[m] then seen[m] = true; mids[#mids + 1] = m end\n"
    "  end\n"
    "end\n"
    "table.sort(mids)\n"
    "for j = math.max(1, #mids - tonumber(ARGV[4]) + 1), #mids do\n"
    "  local v = redis.call('GET', ARGV[1] .. 'msg:' .. mids[j])\n"
    "  if v then out[#out + 1] = v end\n"
    "end\n"
    "return out\n";

/* The cluster's start and counter. ARGV: the start and newest counter this
 * node has seen: a Redis that came back behind them (a failover lost the
 * last writes: replication is asynchronous) has its counter raised to it,
 * so no mid is ever given out twice. */
static const char init_lua[] = "local start = redis.call('GET', KEYS[2])\n"
                               "if not start then\n"
                               "  start = redis.call('TIME')[1]\n"
                               "  redis.call('SET', KEYS[2], start)\n"
                               "end\n"
                               "local n = tonumber(redis.call('GET', KEYS[1]) or '0')\n"
                               "if tonumber(start) == tonumber(ARGV[1]) and n < tonumber(ARGV[2]) then\n"
                               "  n = tonumber(ARGV[2])\n"
                               "  redis.call('SET', KEYS[1], n)\n"
                               "end\n"
                               "return {start, tostring(n)}\n";

struct redis_store {
    struct redis_addr addr;
    struct redis_tls *tls; /* NULL: plain TCP (redis-tls off) */
    struct redis_conn cmd, sub;
    char publish_sha[41], fetch_sha[41];
    char *k_counter, *k_start, *feed;
    bool subscribed;   /* the feed subscription is confirmed */
    bool cover_known;  /* cover: the feed has brought every message above it */
    char cover_epoch[11];
    uint64_t cover;
    bool last_known; /* last: the newest counter the feed brought */
    char last_epoch[11];
    uint64_t last;
    /* the counter was ahead of the feed when the subscription came back:
     * what was published after it arrives on the feed by itself, so only
     * what has not come by this deadline was missed */
    uint64_t expect;
    double expect_until;
    unsigned inflight, fetching;
    bool publish_failing; /* log the first failure of a run only */
    uint64_t failures, fetches, gaps;
    struct cluster *cluster;
    char node_id[CLUSTER_ID_MAX + 1]; /* node name and process id: a restart is a new node */
    bool hello_pending;               /* say hello once the command connection can */
    struct rs_batch *batch;           /* publishes of this loop turn, not sent yet */
    double next_heartbeat;
};

/* A catch-up read for one connection; c is NULL once it stopped waiting. */
struct rs_fetch {
    struct server *s;
    struct conn *c;
    char mid[MSG_MID_LEN + 1]; /* the resume mid asked for */
};

/* ---- records: what the feed carries and the message keys hold ---- */

/* The part the node writes; the script puts mid and created in front:
 * u32 expiry, u8 sender type, u8 sender id length, id, u16 channel count,
 * (u8 length, id) per channel, then u32 length + bytes of the body, the
 * V5 user_params and dictionary. Little-endian. */
static void put_u32(struct buf *b, uint32_t v)
{
    uint8_t p[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    buf_append(b, p, 4);
}

static void put_blob(struct buf *b, const void *p, size_t n)
{
    put_u32(b, (uint32_t)n);
    buf_append(b, p, n);
}

static void encode_tail(struct buf *b, const struct msg *m, char *const *ids, size_t n)
{
    put_u32(b, m->expiry);
    buf_append_byte(b, m->sender_type);
    buf_append_byte(b, m->sender_id_len);
    buf_append(b, m->sender_id, m->sender_id_len);
    buf_append_byte(b, (uint8_t)(n & 0xff));
    buf_append_byte(b, (uint8_t)(n >> 8));
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(ids[i]);
        buf_append_byte(b, (uint8_t)len);
        buf_append(b, ids[i], len);
    }
    put_blob(b, m->body, m->body_len);
    put_blob(b, m->user_params, m->user_params ? strlen(m->user_params) : 0);
    put_blob(b, m->dictionary, m->dictionary ? strlen(m->dictionary) : 0);
}

struct rs_reader {
    const uint8_t *p, *end;
};

static const uint8_t *take(struct rs_reader *r, size_t n)
{
    if ((size_t)(r->end - r->p) < n)
        return NULL;
    const uint8_t *q = r->p;
    r->p += n;
    return q;
}

static bool take_u32(struct rs_reader *r, uint32_t *v)
{
    const uint8_t *q = take(r, 4);
    if (q)
        *v = (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24;
    return q != NULL;
}

static bool take_blob(struct rs_reader *r, const uint8_t **p, uint32_t *n)
{
    return take_u32(r, n) && (*p = take(r, *n)) != NULL;
}

static bool all_digits(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return false;
    return true;
}

/* Decodes a whole record into a new message (one reference for the
 * caller); with ids, also the NUL-terminated channel ids (*ids is one
 * allocation: the pointer array, then the strings). NULL when malformed. */
static struct msg *decode_record(struct server *s, const uint8_t *p, size_t len, char ***ids,
                                 size_t *n_ids)
{
    if (len < RS_HEAD || !all_digits((const char *)p, RS_HEAD))
        return NULL;
    struct rs_reader r = {p + RS_HEAD, p + len};
    char mid[MSG_MID_LEN + 1], created[11];
    memcpy(mid, p, MSG_MID_LEN);
    mid[MSG_MID_LEN] = '\0';
    memcpy(created, p + MSG_MID_LEN, 10);
    created[10] = '\0';
    uint32_t expiry, body_len, up_len, dict_len;
    const uint8_t *st, *sid_len, *sid, *cnt, *body, *up, *dict;
    if (!take_u32(&r, &expiry) || !(st = take(&r, 1)) || !(sid_len = take(&r, 1)) ||
        *sid_len > 16 || !(sid = take(&r, *sid_len)) || !(cnt = take(&r, 2)))
        return NULL;
    size_t n = (size_t)cnt[0] | (size_t)cnt[1] << 8;
    const uint8_t *chans = r.p;
    size_t chars = 0;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *l = take(&r, 1);
        if (!l || !take(&r, *l))
            return NULL;
        chars += *l + 1u;
    }
    if (!take_blob(&r, &body, &body_len) || !take_blob(&r, &up, &up_len) ||
        !take_blob(&r, &dict, &dict_len) || r.p != r.end)
        return NULL;
    uint32_t t = (uint32_t)strtoul(created, NULL, 10);
    uint16_t tag = 1; /* catch-up: the cursor is the mid */
    if (ids) {
        /* live: (time, tag) grows in the order this node delivers */
        t = mid_tag_time(s, t);
        tag = mid_next_tag(s, t);
    }
    struct msg *m = msg_new(mid, ++s->seq, t, tag, expiry, body, body_len);
    msg_set_sender(m, *st, sid, *sid_len);
    if (up_len)
        m->user_params = xstrndup((const char *)up, up_len);
    if (dict_len)
        m->dictionary = xstrndup((const char *)dict, dict_len);
    char **v = xmalloc(n * sizeof *v + chars + 1);
    char *q = (char *)(v + n);
    for (size_t i = 0; i < n; i++, chans += 1u + chans[0]) {
        memcpy(q, chans + 1, chans[0]);
        q[chans[0]] = '\0';
        v[i] = q;
        q += chans[0] + 1u;
    }
    msg_set_channel(m, n ? v[0] : NULL);
    if (ids) {
        *ids = v;
        *n_ids = n;
    } else {
        free(v);
    }
    return m;
}

/* A record of the counter's epoch (cluster start) and value. */
static void mid_split(const char *mid, char epoch[11], uint64_t *counter)
{
    memcpy(epoch, mid, 10);
    epoch[10] = '\0';
    *counter = strtoull(mid + 10, NULL, 10);
}

/* ---- commands ---- */

/* A command being put together: arguments borrowed or owned (the owned
 * ones are freed once it is sent). */
struct rs_cmd {
    const char **argv;
    size_t *lens;
    bool *owned;
    size_t n;
};

static void cmd_init(struct rs_cmd *x, size_t max)
{
    x->argv = xmalloc(max * sizeof *x->argv);
    x->lens = xmalloc(max * sizeof *x->lens);
    x->owned = xcalloc(max, sizeof *x->owned);
    x->n = 0;
}

static void cmd_arg(struct rs_cmd *x, const void *p, size_t len)
{
    x->argv[x->n] = p;
    x->lens[x->n++] = len;
}

static void cmd_str(struct rs_cmd *x, const char *p)
{
    cmd_arg(x, p, strlen(p));
}

static void cmd_own(struct rs_cmd *x, char *p)
{
    x->owned[x->n] = true;
    cmd_str(x, p);
}

static void cmd_num(struct rs_cmd *x, long long v)
{
    char *p = xmalloc(24);
    snprintf(p, 24, "%lld", v);
    cmd_own(x, p);
}

/* Sends it (fn gets the reply) and frees it. Returns 0 or -1 (not sent). */
static int cmd_send(struct redis_conn *rc, struct rs_cmd *x, redis_reply_fn *fn, void *arg)
{
    int r = redis_conn_command(rc, fn, arg, (int)x->n, x->argv, x->lens);
    for (size_t i = 0; i < x->n; i++)
        if (x->owned[i])
            free((char *)x->argv[i]);
    free(x->argv);
    free(x->lens);
    free(x->owned);
    return r;
}

static char *key(const struct server *s, const char *suffix)
{
    size_t n = strlen(s->cfg.redis_prefix) + strlen(suffix) + 1;
    char *k = xmalloc(n);
    snprintf(k, n, "%s%s", s->cfg.redis_prefix, suffix);
    return k;
}

/* The sorted set of a channel's history. */
static char *chan_key(const struct server *s, const char *id, size_t len)
{
    size_t n = strlen(s->cfg.redis_prefix) + 3 + len + 1;
    char *k = xmalloc(n);
    snprintf(k, n, "%sch:%.*s", s->cfg.redis_prefix, (int)len, id);
    return k;
}

static void sha1_hex(const char *text, char out[41])
{
    uint8_t d[SHA_DIGEST_LENGTH];
    SHA1((const uint8_t *)text, strlen(text), d);
    hex_encode(d, sizeof d, out);
}

static void on_script_loaded(struct redis_conn *rc, void *reply, void *arg)
{
    (void)arg;
    redisReply *r = reply;
    if (r && r->type == REDIS_REPLY_ERROR) {
        char why[200];
        snprintf(why, sizeof why, "SCRIPT LOAD refused: %s", r->str);
        log_err("redis: %s", why);
        redis_conn_fail(rc, why);
    }
}

static void load_scripts(struct redis_conn *rc)
{
    const char *const scripts[] = {publish_lua, fetch_lua};
    for (size_t i = 0; i < ARRAY_LEN(scripts); i++) {
        struct rs_cmd cmd;
        cmd_init(&cmd, 3);
        cmd_str(&cmd, "SCRIPT");
        cmd_str(&cmd, "LOAD");
        cmd_str(&cmd, scripts[i]);
        cmd_send(rc, &cmd, on_script_loaded, NULL);
    }
}

static void on_ignored_reply(struct redis_conn *rc, void *reply, void *arg)
{
    (void)rc;
    (void)reply;
    (void)arg;
}

/* The feed brought messages this node never got (its subscription was
 * down): its subscribers resume by mid, which reads them from Redis. */
static void feed_gap(struct server *s, const char *why)
{
    s->redis->gaps++;
    log_warn("redis: %s; subscribers here resume by mid", why);
    s->store_hooks->resume_all(s, 1012, "cluster feed interrupted: resume");
}

/* A Sentinel failover made our Redis a replica (READONLY on a write): both
 * connections go, and connecting again asks the Sentinels for the new
 * primary. True when r was that answer. */
static bool failed_over(struct server *s, const redisReply *r)
{
    if (!r || r->type != REDIS_REPLY_ERROR || strncmp(r->str, "READONLY", 8) != 0)
        return false;
    redis_conn_fail(&s->redis->cmd, "Redis is a replica now (failover): reconnecting");
    redis_conn_fail(&s->redis->sub, "Redis is a replica now (failover): reconnecting");
    return true;
}

static void on_init(struct redis_conn *rc, void *reply, void *arg)
{
    (void)arg;
    struct server *s = rc->data;
    struct redis_store *rs = s->redis;
    redisReply *r = reply;
    /* the script may raise the counter: a write, refused by a replica */
    if (failed_over(s, r))
        return;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_STRING) {
        if (r)
            log_warn("redis: unexpected answer to the cover query%s%s",
                     r->type == REDIS_REPLY_ERROR ? ": " : "",
                     r->type == REDIS_REPLY_ERROR ? r->str : "");
        return; /* asked again when the command connection is back */
    }
    if (!rs->subscribed)
        return;
    char epoch[11];
    snprintf(epoch, sizeof epoch, "%010lu", strtoul(r->element[0]->str, NULL, 10));
    uint64_t n = strtoull(r->element[1]->str, NULL, 10);
    bool same = rs->last_known && strcmp(epoch, rs->last_epoch) == 0;
    /* another cluster start (Redis lost its data): a gap now; a counter
     * ahead of the feed: a gap only if the feed does not catch up (a
     * publish just after the SUBSCRIBE is counted here before its feed
     * message may have come on the other connection) */
    bool gap = rs->last_known && !same && n > 0;
    if (rs->last_known && same && n > rs->last) {
        rs->expect = n;
        rs->expect_until = ev_now(s->loop) + RS_FEED_CATCHUP;
    }
    rs->cover_known = true;
    memcpy(rs->cover_epoch, epoch, sizeof epoch);
    rs->cover = n;
    if (!same) {
        memcpy(rs->last_epoch, epoch, sizeof epoch);
        rs->last = n;
    }
    rs->last_known = true;
    if (gap)
        feed_gap(s, "messages were published while this node's feed subscription was down");
}

static void ask_cover(struct server *s)
{
    struct redis_store *rs = s->redis;
    if (!rs->subscribed || rs->cover_known || rs->cmd.state != REDIS_READY)
        return;
    struct rs_cmd cmd;
    cmd_init(&cmd, 7);
    cmd_str(&cmd, "EVAL");
    cmd_str(&cmd, init_lua);
    cmd_str(&cmd, "2");
    cmd_str(&cmd, rs->k_counter);
    cmd_str(&cmd, rs->k_start);
    cmd_str(&cmd, rs->last_known ? rs->last_epoch : "0");
    cmd_num(&cmd, rs->last_known ? (long long)rs->last : 0);
    cmd_send(&rs->cmd, &cmd, on_init, NULL);
}

/* ---- the feed ---- */

static void on_feed_delete(struct server *s, const uint8_t *p, size_t len)
{
    /* "D", then (u8 length, id) per channel */
    size_t i = 1;
    while (i < len && i + 1 + p[i] <= len) {
        struct chan *ch = chan_get(&s->chans, (const char *)p + i + 1, p[i], false);
        if (ch) {
            chan_clear_history(&s->chans, ch);
            chan_release_if_unused(&s->chans, ch, ev_now(s->loop));
        }
        i += 1u + p[i];
    }
}

static void on_feed_record(struct server *s, const uint8_t *p, size_t len)
{
    struct redis_store *rs = s->redis;
    char **ids;
    size_t n;
    struct msg *m = decode_record(s, p, len, &ids, &n);
    if (!m) {
        log_warn("redis: a malformed record on %s was skipped", rs->feed);
        return;
    }
    char epoch[11];
    uint64_t counter;
    mid_split(m->mid, epoch, &counter);
    bool same = rs->last_known && strcmp(epoch, rs->last_epoch) == 0;
    if (same && counter <= rs->last) {
        msg_unref(m); /* already here (cannot happen with one subscription) */
        free(ids);
        return;
    }
    bool gap = rs->last_known && (same ? counter != rs->last + 1 : counter != 1);
    memcpy(rs->last_epoch, epoch, sizeof epoch);
    rs->last = counter;
    rs->last_known = true;
    if (rs->expect_until > 0 && (gap || counter >= rs->expect))
        rs->expect_until = 0; /* caught up, or the gap is known now */
    if (gap && rs->cover_known) {
        memcpy(rs->cover_epoch, epoch, sizeof epoch);
        rs->cover = counter - 1;
    }
    if (gap)
        feed_gap(s, "the feed skipped messages");
    s->store_hooks->fanout(s, m, ids, n);
    msg_unref(m);
    free(ids);
}

/* 'B', then per record its length in 10 digits and the record. */
static void on_feed_batch(struct server *s, const uint8_t *p, size_t len)
{
    size_t i = 1;
    while (i < len) {
        if (len - i < 10 || !all_digits((const char *)p + i, 10)) {
            log_warn("redis: a malformed batch on %s was cut short", s->redis->feed);
            return;
        }
        char digits[11];
        memcpy(digits, p + i, 10);
        digits[10] = '\0';
        size_t n = strtoul(digits, NULL, 10);
        i += 10;
        if (n > len - i) {
            log_warn("redis: a malformed batch on %s was cut short", s->redis->feed);
            return;
        }
        on_feed_record(s, p + i, n);
        i += n;
    }
}

static void on_feed(struct redis_conn *rc, void *reply, void *arg)
{
    (void)arg;
    struct server *s = rc->data;
    struct redis_store *rs = s->redis;
    redisReply *r = reply;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 3 ||
        r->element[0]->type != REDIS_REPLY_STRING)
        return;
    const char *kind = r->element[0]->str;
    if (strcmp(kind, "subscribe") == 0) {
        rs->subscribed = true;
        log_info("redis: node %s subscribed to %s", s->node_name, rs->feed);
        ask_cover(s);
        /* what the others said while we were away is lost: ask again, and
         * tell them everything */
        cluster_reset(rs->cluster);
        rs->hello_pending = true;
        rs->next_heartbeat = 0;
        chan_presence_mark_all(&s->chans);
        return;
    }
    if (strcmp(kind, "message") != 0 || r->element[2]->type != REDIS_REPLY_STRING)
        return;
    const uint8_t *p = (const uint8_t *)r->element[2]->str;
    size_t len = r->element[2]->len;
    if (len && p[0] == 'D')
        on_feed_delete(s, p, len);
    else if (len && p[0] == 'B')
        on_feed_batch(s, p, len);
    else if (len && (p[0] == 'H' || p[0] == 'P' || p[0] == 'Q')) {
        if (cluster_on_frame(rs->cluster, p, len, ev_now(s->loop)))
            chan_presence_mark_all(&s->chans); /* a node joined: it hears everything */
    } else
        on_feed_record(s, p, len);
}

/* ---- connection events ---- */

static void on_cmd_ready(struct redis_conn *rc)
{
    load_scripts(rc);
    ask_cover(rc->data);
}

static void on_sub_ready(struct redis_conn *rc)
{
    struct server *s = rc->data;
    if (redis_conn_subscribe(rc, s->redis->feed, on_feed) != 0)
        redis_conn_fail(rc, "cannot queue SUBSCRIBE");
}

static void on_sub_lost(struct redis_conn *rc)
{
    struct server *s = rc->data;
    /* what the feed brings from now on says nothing about what came before */
    s->redis->subscribed = false;
    s->redis->cover_known = false;
}

/* ---- store operations ---- */

static void conn_setup(struct server *s, struct redis_conn *rc, const char *name,
                       redis_conn_fn *ready, redis_conn_fn *lost)
{
    memset(rc, 0, sizeof *rc);
    rc->loop = s->loop;
    rc->name = name;
    rc->addr = &s->redis->addr;
    rc->user = s->cfg.redis_user;
    rc->password = s->cfg.redis_password;
    rc->sentinel_master = s->cfg.redis_sentinel_master;
    rc->timeout = (double)s->cfg.redis_timeout / 1000.0;
    rc->tls = s->redis->tls;
    rc->on_ready = ready;
    rc->on_lost = lost;
    rc->data = s;
}

static int redis_store_open(struct server *s, char *err, size_t errlen)
{
    struct redis_store *rs = s->redis = xcalloc(1, sizeof *rs);
    if (redis_addr_parse(s->cfg.redis, &rs->addr, err, errlen) != 0)
        return -1;
    if (s->cfg.redis_tls &&
        !(rs->tls = redis_tls_new(s->cfg.redis_tls_ca, s->cfg.redis_tls_fingerprint,
                                  s->cfg.redis_tls_name, err, errlen)))
        return -1;
    rs->k_counter = key(s, "mid");
    rs->k_start = key(s, "start");
    rs->feed = key(s, "feed");
    sha1_hex(publish_lua, rs->publish_sha);
    sha1_hex(fetch_lua, rs->fetch_sha);
    snprintf(rs->node_id, sizeof rs->node_id, "%.40s#%s", s->node_name, s->unique_id);
    rs->cluster = cluster_new(rs->node_id, (double)s->cfg.online_grace);
    s->chans.track_presence = true;
    conn_setup(s, &rs->cmd, "command", on_cmd_ready, NULL);
    conn_setup(s, &rs->sub, "subscribe", on_sub_ready, on_sub_lost);
    log_info("redis store: node %s, Redis %s%s, key prefix \"%s\", timeout %ld ms, "
             "at most %ld publishes in flight",
             s->node_name, s->cfg.redis,
             !rs->tls                          ? " (plain TCP)"
             : s->cfg.redis_tls_fingerprint[0] ? " (TLS, pinned CA)"
                                               : " (TLS)",
             s->cfg.redis_prefix, s->cfg.redis_timeout, s->cfg.redis_max_inflight);
    /* a Redis that is down now is retried in the background: this node
     * serves its subscribers meanwhile */
    redis_conn_start(&rs->cmd);
    redis_conn_start(&rs->sub);
    return 0;
}

/* A message waiting in the batch, then for the script's reply. */
struct rs_item {
    struct pub_ack *ack;
    struct msg *m;       /* gets the cluster mid the script assigned */
    size_t tail, tail_len; /* in the batch's tails */
    size_t n_keys;         /* its channel keys, next in the batch's keys */
};

/* The messages of one loop turn, sent as one script call. */
struct rs_batch {
    struct server *s;
    struct rs_item *items;
    size_t n, cap;
    struct buf tails;
    char **keys;
    size_t n_keys, cap_keys;
};

#define RS_BATCH_MAX 64                /* messages per script call */
#define RS_BATCH_BYTES (512u * 1024u) /* bytes of tails per script call */

static void batch_free(struct rs_batch *b)
{
    for (size_t i = 0; i < b->n_keys; i++)
        free(b->keys[i]);
    free(b->keys);
    free(b->items);
    buf_deinit(&b->tails);
    free(b);
}

static void publish_failed(struct server *s, const char *why)
{
    struct redis_store *rs = s->redis;
    rs->failures++;
    if (!rs->publish_failing)
        log_warn("redis: publish not confirmed: %s (answered 503)", why);
    rs->publish_failing = true;
}

/* Settles every message of a batch: confirmed (mids from the reply) or not. */
static void batch_settle(struct server *s, struct rs_batch *b, const redisReply *r)
{
    bool ok = r && r->type == REDIS_REPLY_ARRAY && r->elements == b->n;
    if (ok) {
        s->redis->publish_failing = false;
    } else {
        publish_failed(s, r && r->type == REDIS_REPLY_ERROR ? r->str
                          : r                               ? "unexpected reply"
                                                            : "connection lost");
    }
    for (size_t i = 0; i < b->n; i++) {
        struct rs_item *it = &b->items[i];
        const redisReply *e = ok ? r->element[i] : NULL;
        bool done = e && e->type == REDIS_REPLY_STRING && e->len == MSG_MID_LEN;
        /* the publisher's copy is delivered nowhere (the feed's is): only an
         * answer that names the mid (JSON-RPC) reads it */
        if (done)
            memcpy(it->m->mid, e->str, MSG_MID_LEN);
        if (it->ack)
            s->store_hooks->ack_done(s, it->ack, done);
        msg_unref(it->m);
    }
    s->redis->inflight -= (unsigned)b->n;
}

static void on_published(struct redis_conn *rc, void *reply, void *arg)
{
    struct rs_batch *b = arg;
    redisReply *r = reply;
    struct server *s = b->s;
    if (r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0)
        load_scripts(rc); /* someone ran SCRIPT FLUSH */
    /* the batch's publishes answer (503 on an error) before the reconnect */
    batch_settle(s, b, r);
    batch_free(b);
    failed_over(s, r);
}

/* Sends the batch collected so far (before the loop sleeps, or when full). */
static void batch_flush(struct server *s)
{
    struct redis_store *rs = s->redis;
    struct rs_batch *b = rs->batch;
    if (!b)
        return;
    rs->batch = NULL;
    struct rs_cmd cmd;
    cmd_init(&cmd, 3 + 2 + b->n_keys + 6 + 4 * b->n);
    cmd_str(&cmd, "EVALSHA");
    cmd_str(&cmd, rs->publish_sha);
    cmd_num(&cmd, (long long)b->n_keys + 2);
    cmd_str(&cmd, rs->k_counter);
    cmd_str(&cmd, rs->k_start);
    for (size_t i = 0; i < b->n_keys; i++)
        cmd_arg(&cmd, b->keys[i], strlen(b->keys[i]));
    cmd_str(&cmd, s->cfg.redis_prefix);
    cmd_num(&cmd, s->cfg.history_length);
    cmd_num(&cmd, s->cfg.message_ttl);
    cmd_str(&cmd, rs->feed);
    cmd_num(&cmd, (long long)b->n);
    cmd_num(&cmd, (long long)s->cfg.redis_client_memory << 20);
    for (size_t i = 0; i < b->n; i++) {
        cmd_num(&cmd, b->items[i].m->expiry);
        cmd_num(&cmd, (long long)b->items[i].n_keys);
        cmd_num(&cmd, b->items[i].m->sender_type == MSG_SENDER_CLIENT);
        cmd_arg(&cmd, b->tails.data + b->items[i].tail, b->items[i].tail_len);
    }
    if (cmd_send(&rs->cmd, &cmd, on_published, b) != 0) {
        batch_settle(s, b, NULL);
        batch_free(b);
    }
}

static void redis_store_publish(struct server *s, const struct msg *m, char *const *ids, size_t n)
{
    struct redis_store *rs = s->redis;
    struct pub_ack *ack = s->store_hooks->ack_hold(s);
    if (rs->cmd.state != REDIS_READY || rs->inflight >= (unsigned)s->cfg.redis_max_inflight) {
        publish_failed(s, rs->cmd.state != REDIS_READY ? "Redis is not connected"
                                                        : "redis-max-inflight reached");
        if (ack)
            s->store_hooks->ack_done(s, ack, false);
        return;
    }
    struct rs_batch *b = rs->batch;
    if (!b) {
        b = rs->batch = xcalloc(1, sizeof *b);
        b->s = s;
        buf_init(&b->tails);
    }
    if (b->n == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 8;
        b->items = xrealloc(b->items, b->cap * sizeof *b->items);
    }
    if (b->n_keys + n > b->cap_keys) {
        b->cap_keys = 2 * (b->n_keys + n);
        b->keys = xrealloc(b->keys, b->cap_keys * sizeof *b->keys);
    }
    struct rs_item *it = &b->items[b->n++];
    it->ack = ack;
    it->m = msg_ref((struct msg *)m);
    it->tail = b->tails.len;
    encode_tail(&b->tails, m, ids, n);
    it->tail_len = b->tails.len - it->tail;
    it->n_keys = n;
    for (size_t i = 0; i < n; i++)
        b->keys[b->n_keys++] = chan_key(s, ids[i], strlen(ids[i]));
    rs->inflight++;
    if (b->n >= RS_BATCH_MAX || b->tails.len >= RS_BATCH_BYTES)
        batch_flush(s);
}

static void redis_store_delete(struct server *s, char *const *ids, size_t n)
{
    struct redis_store *rs = s->redis;
    if (rs->cmd.state != REDIS_READY)
        return; /* the local histories are cleared by the caller */
    struct buf rec;
    buf_init(&rec);
    buf_append_byte(&rec, 'D');
    struct rs_cmd del;
    cmd_init(&del, n + 1);
    cmd_str(&del, "DEL");
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(ids[i]);
        buf_append_byte(&rec, (uint8_t)len);
        buf_append(&rec, ids[i], len);
        cmd_own(&del, chan_key(s, ids[i], len));
    }
    cmd_send(&rs->cmd, &del, on_ignored_reply, NULL);
    struct rs_cmd pub;
    cmd_init(&pub, 3);
    cmd_str(&pub, "PUBLISH");
    cmd_str(&pub, rs->feed);
    cmd_arg(&pub, rec.data, rec.len);
    cmd_send(&rs->cmd, &pub, on_ignored_reply, NULL);
    buf_deinit(&rec);
}

static void on_fetched(struct redis_conn *rc, void *reply, void *arg)
{
    (void)rc;
    struct rs_fetch *f = arg;
    struct server *s = f->s;
    struct conn *c = f->c;
    char asked[MSG_MID_LEN + 1];
    memcpy(asked, f->mid, sizeof asked);
    s->redis->fetching--;
    free(f);
    if (!c)
        return;
    c->store_wait = NULL;
    redisReply *r = reply;
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        if (r && r->type == REDIS_REPLY_ERROR)
            log_warn("redis: catch-up read failed: %s", r->str);
        s->store_hooks->catchup_finish(c, NULL, 0, false);
        return;
    }
    s->redis->fetches++;
    size_t first = 0;
    if (r->elements && r->element[0]->type == REDIS_REPLY_STRING &&
        strcmp(r->element[0]->str, "unknown") == 0) {
        first = 1; /* never issued: the catch-up is everything, nothing is held back */
        c->lp_mid[0] = '\0';
        log_debug("subscriber %d: resume mid %s was never issued by the cluster: ignored", c->fd,
                  asked);
    } else {
        memcpy(c->lp_mid, asked, sizeof asked);
    }
    struct msg **v = xmalloc((r->elements + 1) * sizeof *v);
    size_t n = 0;
    for (size_t i = first; i < r->elements; i++) {
        const redisReply *e = r->element[i];
        if (e->type == REDIS_REPLY_STRING &&
            (v[n] = decode_record(s, (const uint8_t *)e->str, e->len, NULL, NULL)))
            n++;
    }
    s->store_hooks->catchup_finish(c, v, n, true);
    for (size_t i = 0; i < n; i++)
        msg_unref(v[i]);
    free(v);
}

static bool redis_store_fetch(struct server *s, struct conn *c, const char *mid)
{
    struct redis_store *rs = s->redis;
    char epoch[11];
    uint64_t counter;
    mid_split(mid, epoch, &counter);
    /* above the newest this node has seen: in flight on the feed, or never
     * issued (forged); only Redis's counter tells */
    int vs_seen = rs->last_known ? strcmp(epoch, rs->last_epoch) : 1;
    bool above = vs_seen > 0 || (vs_seen == 0 && counter > rs->last);
    if (!above && rs->subscribed && rs->cover_known && strcmp(epoch, rs->cover_epoch) == 0 &&
        counter >= rs->cover)
        return false; /* everything newer came through the feed: memory has it */
    if (rs->cmd.state != REDIS_READY || c->n_links == 0 ||
        rs->fetching >= (unsigned)s->cfg.redis_max_inflight) {
        if (above)
            c->lp_mid[0] = '\0'; /* unconfirmed: it must not hold every message back */
        return false; /* the local histories are the best there is now */
    }
    struct rs_cmd cmd;
    cmd_init(&cmd, 3 + 2 + c->n_links + 4);
    cmd_str(&cmd, "EVALSHA");
    cmd_str(&cmd, rs->fetch_sha);
    cmd_num(&cmd, c->n_links + 2);
    cmd_str(&cmd, rs->k_start);
    cmd_str(&cmd, rs->k_counter);
    for (uint16_t i = 0; i < c->n_links; i++)
        cmd_own(&cmd, chan_key(s, c->links[i].ch->id, c->links[i].ch->id_len));
    cmd_str(&cmd, s->cfg.redis_prefix);
    cmd_str(&cmd, mid);
    cmd_num(&cmd, s->cfg.catchup_per_channel);
    cmd_num(&cmd, s->cfg.catchup_total);
    struct rs_fetch *f = xmalloc(sizeof *f);
    *f = (struct rs_fetch){.s = s, .c = c};
    memcpy(f->mid, mid, sizeof f->mid);
    if (cmd_send(&rs->cmd, &cmd, on_fetched, f) != 0) {
        free(f);
        if (above)
            c->lp_mid[0] = '\0';
        return false;
    }
    if (above && rs->last_known) {
        /* meanwhile only what this node has seen is held back: live
         * messages above it wait in the catch-up merge, which drops those
         * at or below the mid once Redis confirmed it was issued */
        snprintf(c->lp_mid, sizeof c->lp_mid, "%s%016llu", rs->last_epoch,
                 (unsigned long long)rs->last);
    } else if (above) {
        c->lp_mid[0] = '\0';
    }
    rs->fetching++;
    c->store_wait = f;
    return true;
}

static void redis_store_forget(struct server *s, struct conn *c)
{
    (void)s;
    struct rs_fetch *f = c->store_wait;
    if (f)
        f->c = NULL;
    c->store_wait = NULL;
}

static bool redis_store_writable(const struct server *s)
{
    const struct redis_store *rs = s->redis;
    return rs->cmd.state == REDIS_READY && rs->inflight < (unsigned)s->cfg.redis_max_inflight;
}

/* Before the loop sleeps, i.e. before any answer is written: this turn's
 * publishes go to Redis as one script call. */
static void redis_store_before_sleep(struct server *s)
{
    batch_flush(s);
}

static void feed_publish(struct server *s, const struct buf *frame)
{
    struct redis_store *rs = s->redis;
    struct rs_cmd pub;
    cmd_init(&pub, 3);
    cmd_str(&pub, "PUBLISH");
    cmd_str(&pub, rs->feed);
    cmd_arg(&pub, frame->data, frame->len);
    cmd_send(&rs->cmd, &pub, on_ignored_reply, NULL);
}

struct presence_batch {
    struct server *s;
    struct buf frame;
    size_t empty; /* the frame's length with no entries */
};

static void presence_entry(void *arg, const char *id, size_t len, uint32_t subs,
                           uint32_t last_seen)
{
    struct presence_batch *b = arg;
    cluster_frame_presence_add(&b->frame, id, len, subs, last_seen);
    if (b->frame.len >= CLUSTER_FRAME_MAX) {
        feed_publish(b->s, &b->frame);
        b->frame.len = b->empty;
    }
}

/* What this node tells the others, four times a second: hello after it
 * (re)subscribed, the channels whose subscribers changed, and every
 * CLUSTER_HEARTBEAT seconds its /server-stat/ object. Nothing while the
 * command connection is down: the changes wait, and are absolute values. */
static void redis_store_tick(struct server *s, double now)
{
    struct redis_store *rs = s->redis;
    cluster_sweep(rs->cluster, now);
    if (rs->expect_until > 0 && now >= rs->expect_until) {
        rs->expect_until = 0;
        if (rs->last < rs->expect) {
            rs->last = rs->expect; /* the gap is handled: the next record follows it */
            feed_gap(s, "messages were published while this node's feed subscription was down");
        }
    }
    if (rs->cmd.state != REDIS_READY || !rs->subscribed)
        return;
    struct presence_batch b = {.s = s};
    buf_init(&b.frame);
    if (rs->hello_pending) {
        cluster_frame_hello(&b.frame, rs->node_id);
        feed_publish(s, &b.frame);
        b.frame.len = 0;
        rs->hello_pending = false;
    }
    cluster_frame_presence_begin(&b.frame, rs->node_id);
    b.empty = b.frame.len;
    chan_presence_drain(&s->chans, presence_entry, &b);
    if (b.frame.len > b.empty)
        feed_publish(s, &b.frame);
    if (now >= rs->next_heartbeat) {
        rs->next_heartbeat = now + CLUSTER_HEARTBEAT;
        struct buf st;
        buf_init(&st);
        stats_node_json(s, &st);
        b.frame.len = 0;
        cluster_frame_heartbeat(&b.frame, rs->node_id, (const char *)st.data, st.len);
        feed_publish(s, &b.frame);
        buf_deinit(&st);
    }
    buf_deinit(&b.frame);
}

static bool redis_store_chan_info(struct server *s, const char *id, size_t len, unsigned *subs,
                                  double *last_seen)
{
    return cluster_chan_info(s->redis->cluster, id, len, subs, last_seen);
}

static size_t redis_store_nodes(struct server *s, const struct cluster_node_info **out)
{
    return cluster_nodes(s->redis->cluster, out);
}

static void redis_store_stats(const struct server *s, struct store_stats *st)
{
    const struct redis_store *rs = s->redis;
    uint64_t made = rs->cmd.connects + rs->sub.connects;
    *st = (struct store_stats){
        .cluster = true,
        .connected = rs->cmd.state == REDIS_READY,
        .subscribed = rs->subscribed,
        .inflight = rs->inflight,
        .inflight_max = (unsigned)s->cfg.redis_max_inflight,
        .reconnects = made > 2 ? made - 2 : 0,
        .failures = rs->failures,
        .fetches = rs->fetches,
        .gaps = rs->gaps,
        .last_error = rs->cmd.state != REDIS_READY   ? rs->cmd.last_error
                      : rs->sub.state != REDIS_READY ? rs->sub.last_error
                                                     : "",
    };
}

static void redis_store_close(struct server *s)
{
    struct redis_store *rs = s->redis;
    if (!rs)
        return;
    if (rs->batch) { /* never sent: not confirmed */
        struct rs_batch *b = rs->batch;
        rs->batch = NULL;
        batch_settle(s, b, NULL);
        batch_free(b);
    }
    /* pending replies come back as NULL here: waiting publishes are let go */
    redis_conn_stop(&rs->cmd);
    redis_conn_stop(&rs->sub);
    redis_tls_free(rs->tls);
    free(rs->k_counter);
    free(rs->k_start);
    free(rs->feed);
    cluster_free(rs->cluster);
    free(rs);
    s->redis = NULL;
}

const struct store_ops store_redis_ops = {
    .name = "redis",
    .open = redis_store_open,
    .publish = redis_store_publish,
    .delete_channels = redis_store_delete,
    .writable = redis_store_writable,
    .before_sleep = redis_store_before_sleep,
    .tick = redis_store_tick,
    .close = redis_store_close,
    .fans_out = true,
    .refusal = "Redis is not reachable, or redis-max-inflight publishes are waiting for it: "
               "nothing was published (this node still serves its subscribers)",
    .fetch = redis_store_fetch,
    .forget = redis_store_forget,
    .stats = redis_store_stats,
    .chan_info = redis_store_chan_info,
    .nodes = redis_store_nodes,
};
