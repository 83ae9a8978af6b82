#include <opus/opus.h>

/* opus_encoder_ctl is variadic, which Swift cannot call: typed wrappers for the requests we use. */
static inline int sa_opus_set_bitrate(OpusEncoder *e, opus_int32 bps) { return opus_encoder_ctl(e, OPUS_SET_BITRATE(bps)); }
static inline int sa_opus_set_complexity(OpusEncoder *e, opus_int32 c) { return opus_encoder_ctl(e, OPUS_SET_COMPLEXITY(c)); }
static inline int sa_opus_set_signal_voice(OpusEncoder *e) { return opus_encoder_ctl(e, OPUS_SET_SIGNAL(OPUS_SIGNAL_VOICE)); }
static inline int sa_opus_get_lookahead(OpusEncoder *e, opus_int32 *v) { return opus_encoder_ctl(e, OPUS_GET_LOOKAHEAD(v)); }
static inline int sa_opus_set_max_bandwidth(OpusEncoder *e, opus_int32 bw) { return opus_encoder_ctl(e, OPUS_SET_MAX_BANDWIDTH(bw)); }
