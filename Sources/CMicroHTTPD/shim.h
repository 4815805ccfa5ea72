#ifndef VIRTHOST_CMICROHTTPD_SHIM_H
#define VIRTHOST_CMICROHTTPD_SHIM_H
#include <sys/types.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <stdint.h>
#include <stdarg.h>
#include <string.h>
#include <microhttpd.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

/* What virthost_verify_client_certificate found. */
enum virthost_client_certificate {
    VIRTHOST_CLIENT_CERTIFICATE_VERIFIED = 0,
    VIRTHOST_CLIENT_CERTIFICATE_ABSENT = 1,
    VIRTHOST_CLIENT_CERTIFICATE_UNTRUSTED = 2,
    VIRTHOST_CLIENT_CERTIFICATE_NO_SESSION = 3,
};

/* libmicrohttpd only asks a TLS client for its certificate; this checks it against the trust
 * list the daemon was given (chain, signature, validity dates) and copies the subject's DN.
 * MHD_get_connection_info is variadic, which Swift cannot call, hence C. */
static inline int virthost_verify_client_certificate(struct MHD_Connection *connection, char *subject,
                                                     size_t capacity) {
    if (capacity > 0) subject[0] = '\0';
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (info == NULL || info->tls_session == NULL) return VIRTHOST_CLIENT_CERTIFICATE_NO_SESSION;
    gnutls_session_t session = (gnutls_session_t)info->tls_session;
    unsigned int peers = 0;
    const gnutls_datum_t *chain = gnutls_certificate_get_peers(session, &peers);
    if (chain == NULL || peers == 0) return VIRTHOST_CLIENT_CERTIFICATE_ABSENT;
    unsigned int status = 0;
    if (gnutls_certificate_verify_peers2(session, &status) < 0 || status != 0)
        return VIRTHOST_CLIENT_CERTIFICATE_UNTRUSTED;
    gnutls_x509_crt_t certificate;
    if (gnutls_x509_crt_init(&certificate) < 0) return VIRTHOST_CLIENT_CERTIFICATE_UNTRUSTED;
    int result = VIRTHOST_CLIENT_CERTIFICATE_UNTRUSTED;
    if (gnutls_x509_crt_import(certificate, &chain[0], GNUTLS_X509_FMT_DER) >= 0) {
        gnutls_datum_t dn = {NULL, 0};
        if (gnutls_x509_crt_get_dn3(certificate, &dn, 0) >= 0) {
            size_t length = dn.size < capacity ? dn.size : capacity - 1;
            memcpy(subject, dn.data, length);
            subject[length] = '\0';
            gnutls_free(dn.data);
            result = VIRTHOST_CLIENT_CERTIFICATE_VERIFIED;
        }
    }
    gnutls_x509_crt_deinit(certificate);
    return result;
}

/* SHA-256 through GnuTLS (already linked by libmicrohttpd): 0 on success. */
static inline int virthost_sha256(const void *data, size_t length, unsigned char digest[32]) {
    return gnutls_hash_fast(GNUTLS_DIG_SHA256, data, length, digest);
}

/* SHA-1, which the WebSocket handshake's Sec-WebSocket-Accept requires (RFC 6455 §4.2.2). */
static inline int virthost_sha1(const void *data, size_t length, unsigned char digest[20]) {
    return gnutls_hash_fast(GNUTLS_DIG_SHA1, data, length, digest);
}

/* Ends an upgraded connection (MHD_upgrade_action is variadic, which Swift cannot call). */
static inline int virthost_upgrade_close(struct MHD_UpgradeResponseHandle *handle) {
    return MHD_upgrade_action(handle, MHD_UPGRADE_ACTION_CLOSE) == MHD_YES;
}

#endif
