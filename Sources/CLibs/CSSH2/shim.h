#include <libssh2.h>
#include <libssh2_sftp.h>
#include <string.h>

/* Many libssh2 names are macros over _ex functions; typed wrappers for Swift. */
static inline LIBSSH2_SESSION *sa_ssh_session_new(void) { return libssh2_session_init_ex(NULL, NULL, NULL, NULL); }
static inline int sa_ssh_auth_password(LIBSSH2_SESSION *s, const char *user, const char *pw) {
    return libssh2_userauth_password_ex(s, user, (unsigned int)strlen(user), pw, (unsigned int)strlen(pw), NULL);
}
static inline int sa_ssh_auth_key(LIBSSH2_SESSION *s, const char *user, const char *priv, const char *pass) {
    return libssh2_userauth_publickey_fromfile_ex(s, user, (unsigned int)strlen(user), NULL, priv, pass);
}
static inline int sa_ssh_disconnect(LIBSSH2_SESSION *s) {
    return libssh2_session_disconnect_ex(s, SSH_DISCONNECT_BY_APPLICATION, "done", "");
}
static inline LIBSSH2_SFTP_HANDLE *sa_sftp_open(LIBSSH2_SFTP *f, const char *path, unsigned long flags, long mode) {
    return libssh2_sftp_open_ex(f, path, (unsigned int)strlen(path), flags, mode, LIBSSH2_SFTP_OPENFILE);
}
static inline int sa_sftp_close(LIBSSH2_SFTP_HANDLE *h) { return libssh2_sftp_close_handle(h); }
static inline int sa_sftp_mkdir(LIBSSH2_SFTP *f, const char *path, long mode) {
    return libssh2_sftp_mkdir_ex(f, path, (unsigned int)strlen(path), mode);
}
static inline int sa_sftp_stat(LIBSSH2_SFTP *f, const char *path, LIBSSH2_SFTP_ATTRIBUTES *a) {
    return libssh2_sftp_stat_ex(f, path, (unsigned int)strlen(path), LIBSSH2_SFTP_STAT, a);
}
static inline int sa_sftp_unlink(LIBSSH2_SFTP *f, const char *path) {
    return libssh2_sftp_unlink_ex(f, path, (unsigned int)strlen(path));
}
static inline int sa_sftp_rename(LIBSSH2_SFTP *f, const char *from, const char *to) {
    return libssh2_sftp_rename_ex(f, from, (unsigned int)strlen(from), to, (unsigned int)strlen(to),
                                  LIBSSH2_SFTP_RENAME_OVERWRITE | LIBSSH2_SFTP_RENAME_ATOMIC | LIBSSH2_SFTP_RENAME_NATIVE);
}
static inline LIBSSH2_KNOWNHOSTS *sa_knownhost_init(LIBSSH2_SESSION *s) { return libssh2_knownhost_init(s); }
static inline int sa_knownhost_readfile(LIBSSH2_KNOWNHOSTS *h, const char *file) {
    return libssh2_knownhost_readfile(h, file, LIBSSH2_KNOWNHOST_FILE_OPENSSH);
}
static inline int sa_knownhost_writefile(LIBSSH2_KNOWNHOSTS *h, const char *file) {
    return libssh2_knownhost_writefile(h, file, LIBSSH2_KNOWNHOST_FILE_OPENSSH);
}
static inline int sa_knownhost_keybit(int hostkey_type) {
    switch (hostkey_type) {
    case LIBSSH2_HOSTKEY_TYPE_RSA: return LIBSSH2_KNOWNHOST_KEY_SSHRSA;
    case LIBSSH2_HOSTKEY_TYPE_DSS: return LIBSSH2_KNOWNHOST_KEY_SSHDSS;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_256: return LIBSSH2_KNOWNHOST_KEY_ECDSA_256;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_384: return LIBSSH2_KNOWNHOST_KEY_ECDSA_384;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_521: return LIBSSH2_KNOWNHOST_KEY_ECDSA_521;
    case LIBSSH2_HOSTKEY_TYPE_ED25519: return LIBSSH2_KNOWNHOST_KEY_ED25519;
    default: return LIBSSH2_KNOWNHOST_KEY_UNKNOWN;
    }
}
/* 0 match, 1 mismatch, 2 not found, 3 failure */
static inline int sa_knownhost_check(LIBSSH2_KNOWNHOSTS *h, const char *host, int port, const char *key, size_t len, int keybit) {
    struct libssh2_knownhost *found = NULL;
    int rc = libssh2_knownhost_checkp(h, host, port, key, len,
                                      LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | keybit, &found);
    switch (rc) {
    case LIBSSH2_KNOWNHOST_CHECK_MATCH: return 0;
    case LIBSSH2_KNOWNHOST_CHECK_MISMATCH: return 1;
    case LIBSSH2_KNOWNHOST_CHECK_NOTFOUND: return 2;
    default: return 3;
    }
}
static inline int sa_knownhost_add(LIBSSH2_KNOWNHOSTS *h, const char *hostspec, const char *key, size_t len, int keybit) {
    return libssh2_knownhost_addc(h, hostspec, NULL, key, len, NULL, 0,
                                  LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | keybit, NULL);
}
