#include <openssl/evp.h>

/* SHA-256 through OpenSSL's EVP interface (macros and opaque types wrapped for Swift). */
static inline EVP_MD_CTX *sa_sha256_new(void) {
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1) { EVP_MD_CTX_free(c); return NULL; }
    return c;
}
static inline int sa_sha256_update(EVP_MD_CTX *c, const void *p, size_t n) { return EVP_DigestUpdate(c, p, n); }
static inline int sa_sha256_final(EVP_MD_CTX *c, unsigned char out[32]) {
    unsigned int len = 0;
    int ok = EVP_DigestFinal_ex(c, out, &len);
    EVP_MD_CTX_free(c);
    return ok == 1 && len == 32;
}
