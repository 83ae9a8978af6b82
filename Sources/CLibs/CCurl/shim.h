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

/* What every GET of ours sets: the URL and request headers, a user agent, redirects followed,
   no signals, a connect timeout, a transfer that moves nothing for low_speed_time seconds
   failed, and the error text into errbuf (CURL_ERROR_SIZE + 1 bytes). */
static inline void sa_curl_setup_get(CURL *h, const char *url, struct curl_slist *headers, const char *agent,
                                     long connect_timeout, long low_speed_time, char *errbuf) {
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_USERAGENT, agent);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, connect_timeout);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, low_speed_time);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
}
