/* The cluster hub's own certificate authority, for the TLS of its Redis:
 * where its files live, the name its Redis certificate carries, and the
 * SHA-256 of its CA certificate, which a node pins (cluster.hub-ca) when
 * it joins, with the hub's password. The CA is made per hub and signs only
 * that hub's Redis certificate, so the pin alone says "this hub"; the
 * certificate names a fixed name rather than the hub's addresses, which
 * DHCP or NAT may change under it. */
#ifndef PULLBOX_CFG_HUBCA_H
#define PULLBOX_CFG_HUBCA_H

#include <stddef.h>

#define PATH_HUBCA_DIR "data/etc/redis-tls"                  /* root 0755 */
#define PATH_HUBCA_CERT "data/etc/redis-tls/ca.pem"          /* public: 0644 */
#define PATH_HUBCA_KEY "data/etc/redis-tls/ca.key"           /* root 0600 */
#define PATH_HUBCA_REDIS_CERT "data/etc/redis-tls/redis.pem" /* its certificate + the CA, 0644 */
#define PATH_HUBCA_REDIS_KEY "data/etc/redis-tls/redis.key"  /* root:redis 0640 */

/* the name the hub's Redis certificate carries (and 127.0.0.1, for its own
 * pullboxd), and that every pullboxd of the cluster checks */
#define HUBCA_REDIS_NAME "pullbox-hub"

/* "AB:CD:..." (95 characters) and its NUL */
#define HUBCA_FINGERPRINT_LEN 96

/* The SHA-256 of the PEM certificate at path (root-relative) as
 * colon-separated upper-case hex. Returns 0, or -1 with err. */
int hubca_fingerprint(const char *rel, char out[HUBCA_FINGERPRINT_LEN], char *err, size_t errlen);

#endif
