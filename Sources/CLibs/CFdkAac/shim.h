#include <fdk-aac/aacenc_lib.h>

/* Sets up an AAC-LC mono ADTS encoder; returns 0 on success. */
static inline int sa_aac_open(HANDLE_AACENCODER *h, int sample_rate, int bitrate, int *frame_length, int *delay) {
    if (aacEncOpen(h, 0, 1) != AACENC_OK) return -1;
    if (aacEncoder_SetParam(*h, AACENC_AOT, AOT_AAC_LC) != AACENC_OK) return -2;
    if (aacEncoder_SetParam(*h, AACENC_SAMPLERATE, sample_rate) != AACENC_OK) return -3;
    if (aacEncoder_SetParam(*h, AACENC_CHANNELMODE, MODE_1) != AACENC_OK) return -4;
    if (aacEncoder_SetParam(*h, AACENC_BITRATE, bitrate) != AACENC_OK) return -5;
    if (aacEncoder_SetParam(*h, AACENC_TRANSMUX, TT_MP4_ADTS) != AACENC_OK) return -6;
    if (aacEncoder_SetParam(*h, AACENC_AFTERBURNER, 1) != AACENC_OK) return -7;
    if (aacEncEncode(*h, NULL, NULL, NULL, NULL) != AACENC_OK) return -8;
    AACENC_InfoStruct info;
    if (aacEncInfo(*h, &info) != AACENC_OK) return -9;
    *frame_length = (int)info.frameLength;
    *delay = (int)info.nDelay;
    return 0;
}

/* Feeds up to n samples (n < 0 flushes); writes at most one ADTS frame to out.
   Returns the number of output bytes, or a negative value on error; *consumed gets the input used. */
static inline int sa_aac_encode(HANDLE_AACENCODER h, INT_PCM *pcm, int n, UCHAR *out, int out_cap, int *consumed) {
    AACENC_BufDesc in_buf = {0}, out_buf = {0};
    AACENC_InArgs in_args = {0};
    AACENC_OutArgs out_args = {0};
    int in_id = IN_AUDIO_DATA, in_size = (n > 0 ? n : 0) * (int)sizeof(INT_PCM), in_el = sizeof(INT_PCM);
    int out_id = OUT_BITSTREAM_DATA, out_size = out_cap, out_el = 1;
    void *in_ptr = pcm, *out_ptr = out;
    in_buf.numBufs = 1; in_buf.bufs = &in_ptr; in_buf.bufferIdentifiers = &in_id;
    in_buf.bufSizes = &in_size; in_buf.bufElSizes = &in_el;
    out_buf.numBufs = 1; out_buf.bufs = &out_ptr; out_buf.bufferIdentifiers = &out_id;
    out_buf.bufSizes = &out_size; out_buf.bufElSizes = &out_el;
    in_args.numInSamples = n;
    AACENC_ERROR err = aacEncEncode(h, n < 0 ? &in_buf : &in_buf, &out_buf, &in_args, &out_args);
    *consumed = out_args.numInSamples;
    if (err == AACENC_ENCODE_EOF) return -1000;
    if (err != AACENC_OK) return -(int)err;
    return out_args.numOutBytes;
}
