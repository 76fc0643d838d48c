/* What pullboxd's Redis user may run, as a Redis ACL rule: the commands the
 * Redis store sends and those its Lua scripts call (Redis checks a script's
 * commands against the caller's ACL too), nothing else. The cluster hub's
 * redis.conf gives pullboxd's user this rule (config-ui/lib/render.c), so a
 * node's password can neither reconfigure, replicate, wipe nor watch the
 * hub (CONFIG, REPLICAOF, FLUSHALL, MONITOR, ACL, KEYS, DEBUG: refused).
 * A command the store starts to use goes here too:
 * tests/integration/97-redis-acl.py runs the store against exactly this. */
#ifndef PULLBOX_REDIS_ACL_H
#define PULLBOX_REDIS_ACL_H

/* the user pullboxd authenticates as on the hub (redis-user) */
#define REDIS_ACL_USER "pullbox"

#define REDIS_ACL_COMMANDS                                                                         \
    "-@all +auth +ping +script|load +eval +evalsha +publish +subscribe +unsubscribe "              \
    "+get +set +incrby +expire +zadd +zremrangebyrank +zrevrangebyscore +time"

#endif
