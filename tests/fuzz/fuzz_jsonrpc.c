/* V5 JSON-RPC requests (rpc.c's runner), from the trusted PHP side (a body
 * on /bitrix/api/ whose signature has been checked) and from a WebSocket
 * client (a text frame). Input: one byte of flags (1: a client; 2: the
 * client is authenticated as a user), then the request text.
 * The runner is reached through a real server (memory store, no listeners)
 * built once and rebuilt every few thousand inputs, so published channels
 * do not pile up.
 * Properties: the reply is always well-formed JSON; a batch of 1 to
 * max-messages-per-request requests gets an array of as many replies, in
 * order; every reply has "jsonrpc": "2.0", the request's id (or null), and
 * exactly one of "result" and "error"; an error has an integer code and a
 * string message; unparsable input gets -32700, an unknown method -32601.
 */
/* fuzz-link: server */
#include "../../server/src/rpc.c"

#include "fuzz.h"

static struct server srv;
static bool srv_up;
static unsigned runs;
static struct conn client;
static char user_id[] = "42";

static void srv_start(void)
{
    struct config cfg;
    char err[512];
    config_defaults(&cfg);
    const char *off[] = {"off"};
    char **lists[] = {&cfg.listen_subscribe, &cfg.listen_publish, &cfg.listen_subscribe_tls,
                      &cfg.listen_publish_tls};
    for (size_t i = 0; i < 4; i++) {
        free(*lists[i]);
        *lists[i] = xstrdup(off[0]);
    }
    free(cfg.signature_key);
    cfg.signature_key = xstrdup("current-signature-key-0123456789");
    cfg.workers = 1;
    /* nothing kept per publish: libFuzzer runs a full leak check after every
     * input whose allocations outlive it, which a kept history would make
     * every publish (200 runs a second instead of thousands) */
    cfg.history_length = 0;
    cfg.log_level = LOG_LVL_ERR;
    if (server_init(&srv, EV_DEFAULT, &cfg, err, sizeof err) != 0) {
        fprintf(stderr, "fuzz_jsonrpc: server_init: %s\n", err);
        abort();
    }
    /* libFuzzer handles SIGINT itself */
    ev_signal_stop(srv.loop, &srv.sigint);
    ev_signal_stop(srv.loop, &srv.sigterm);
    ev_signal_stop(srv.loop, &srv.sighup);
    client.srv = &srv;
    client.tp = &transport_websocket; /* a V5 client: answers go out as text frames */
    srv_up = true;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    log_level = LOG_LVL_ERR;
    return 0;
}

static void check_reply(const json_t *req, const json_t *rep, bool is_client)
{
    FUZZ_CHECK(json_is_object(rep));
    FUZZ_CHECK(json_is_string(json_object_get(rep, "jsonrpc")) &&
               strcmp(json_string_value(json_object_get(rep, "jsonrpc")), "2.0") == 0);
    const json_t *id = json_object_get(rep, "id");
    FUZZ_CHECK(id != NULL);
    const json_t *rid = json_is_object(req) ? json_object_get(req, "id") : NULL;
    /* an id that is not a string, a number or null is no id: -32600, null */
    bool bad_id = rid && !json_is_string(rid) && !json_is_number(rid) && !json_is_null(rid);
    FUZZ_CHECK(rid && !bad_id ? json_equal(id, rid) : json_is_null(id));
    const json_t *res = json_object_get(rep, "result"), *err = json_object_get(rep, "error");
    if (bad_id)
        FUZZ_CHECK(err && json_integer_value(json_object_get(err, "code")) == RPC_INVALID);
    FUZZ_CHECK((res == NULL) != (err == NULL));
    FUZZ_CHECK(json_object_size(rep) == 3);
    if (err) {
        FUZZ_CHECK(json_is_integer(json_object_get(err, "code")));
        FUZZ_CHECK(json_is_string(json_object_get(err, "message")));
    }
    const char *m = json_string_value(json_object_get(req, "method"));
    const char *known[] = {"publish",
                           "getUsersLastSeen",
                           "ping",
                           "listChannels",
                           is_client ? NULL : "serverStats",
                           is_client ? NULL : "updateUsersLastSeen"};
    bool is_known = false;
    for (size_t i = 0; m && i < ARRAY_LEN(known); i++)
        is_known |= known[i] && strcmp(m, known[i]) == 0;
    const json_t *v = json_object_get(req, "jsonrpc");
    const json_t *params = json_object_get(req, "params");
    if (m && !is_known && !bad_id && json_is_string(v) &&
        strcmp(json_string_value(v), "2.0") == 0 && (!params || json_is_object(params)))
        FUZZ_CHECK(err && json_integer_value(json_object_get(err, "code")) == RPC_NO_METHOD);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (srv_up && ++runs % 4000 == 0) {
        server_deinit(&srv);
        srv_up = false;
    }
    if (!srv_up)
        srv_start();
    bool is_client = data[0] & 1;
    client.user_id = data[0] & 2 ? user_id : NULL;
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    json_t *in = json_loadb((const char *)p, n, JSON_REJECT_DUPLICATES, NULL);

    struct rpc_ctx x = {.s = &srv, .client = is_client ? &client : NULL};
    bool parse_error;
    char *text = run_text(&x, p, n, &parse_error);
    FUZZ_CHECK(text != NULL);
    FUZZ_CHECK(parse_error == (in == NULL));
    json_error_t jerr;
    json_t *out = json_loads(text, 0, &jerr);
    FUZZ_CHECK(out != NULL);
    size_t max = (size_t)srv.cfg.max_messages_per_request;
    if (!in) {
        const json_t *err = json_object_get(out, "error");
        FUZZ_CHECK(json_integer_value(json_object_get(err, "code")) == RPC_PARSE);
        FUZZ_CHECK(json_is_null(json_object_get(out, "id")));
    } else if (json_is_array(in) && json_array_size(in) >= 1 && json_array_size(in) <= max) {
        FUZZ_CHECK(json_is_array(out) && json_array_size(out) == json_array_size(in));
        for (size_t i = 0; i < json_array_size(in); i++)
            check_reply(json_array_get(in, i), json_array_get(out, i), is_client);
    } else if (json_is_array(in)) {
        FUZZ_CHECK(json_integer_value(json_object_get(json_object_get(out, "error"), "code")) ==
                   RPC_INVALID);
    } else {
        check_reply(in, out, is_client);
    }
    json_decref(out);
    json_decref(in);
    free(text);
    return 0;
}
