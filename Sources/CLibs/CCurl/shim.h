#include <curl/curl.h>

/* curl_easy_setopt / curl_easy_getinfo are variadic, which Swift cannot call: typed wrappers. */
static inline CURLcode sa_curl_set_long(CURL *h, CURLoption o, long v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode sa_curl_set_str(CURL *h, CURLoption o, const char *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode sa_curl_set_ptr(CURL *h, CURLoption o, void *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode sa_curl_set_slist(CURL *h, CURLoption o, struct curl_slist *v) { return curl_easy_setopt(h, o, v); }
typedef size_t (*sa_curl_data_cb)(char *, size_t, size_t, void *);
typedef int (*sa_curl_xfer_cb)(void *, curl_off_t, curl_off_t, curl_off_t, curl_off_t);
static inline CURLcode sa_curl_set_data_cb(CURL *h, CURLoption o, sa_curl_data_cb v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode sa_curl_set_xfer_cb(CURL *h, CURLoption o, sa_curl_xfer_cb v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode sa_curl_get_long(CURL *h, CURLINFO i, long *v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode sa_curl_get_str(CURL *h, CURLINFO i, char **v) { return curl_easy_getinfo(h, i, v); }
