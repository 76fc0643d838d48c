/* The fingerprint of the hub's CA certificate, as the hub's Cluster page
 * and console show it and as a node's pullboxd pins it
 * (redis-tls-fingerprint). */
#include "hubca.h"

#include "fileio.h"
#include "root.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

int hubca_fingerprint(const char *rel, char out[HUBCA_FINGERPRINT_LEN], char *err, size_t errlen)
{
    char path[PATH_MAX], *pem = NULL;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    X509 *x = NULL;
    BIO *bio;
    int rc = -1;

    out[0] = '\0';
    if (root_path(path, sizeof(path), rel) != 0 ||
        file_read_all(path, 64 * 1024, &pem, err, errlen) < 0)
        return -1;
    bio = BIO_new_mem_buf(pem, -1);
    if (bio)
        x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    if (x && X509_digest(x, EVP_sha256(), md, &n) == 1 && n == 32) {
        for (unsigned int i = 0; i < n; i++)
            snprintf(out + 3 * i, 4, "%02X%s", md[i], i + 1 < n ? ":" : "");
        rc = 0;
    } else {
        snprintf(err, errlen, "%s: no certificate in it", rel);
    }
    X509_free(x);
    BIO_free(bio);
    free(pem);
    return rc;
}
