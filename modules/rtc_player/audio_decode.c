/* Decoding an audio file (libsndfile) to mono float PCM resampled to 48 and 8 kHz (libsamplerate). */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <samplerate.h>
#include <sndfile.h>

#include "audio.h"

#define READ_CHUNK 4096

static void format_of(int fmt, const char **name, const char **ctype)
{
	switch (fmt & SF_FORMAT_TYPEMASK) {
	case SF_FORMAT_WAV:
	case SF_FORMAT_WAVEX:
	case SF_FORMAT_RF64:
		*name = "wav", *ctype = "audio/wav";
		break;
	case SF_FORMAT_FLAC:
		*name = "flac", *ctype = "audio/flac";
		break;
	case SF_FORMAT_OGG:
		*name = "ogg", *ctype = "audio/ogg";
		break;
	case SF_FORMAT_MPEG:
		*name = "mp3", *ctype = "audio/mpeg";
		break;
	case SF_FORMAT_AIFF:
		*name = "aiff", *ctype = "audio/aiff";
		break;
	case SF_FORMAT_AU:
		*name = "au", *ctype = "audio/basic";
		break;
	default:
		*name = "audio", *ctype = "application/octet-stream";
		break;
	}
}

/*
 * libsndfile shortens a WAV whose data chunk runs past the end of the file
 * and only says so in its log ("data : 176400 (should be 29956)").
 */
static bool wav_cut(SNDFILE *sf)
{
	char log[4096] = "";
	const char *line, *end;

	sf_command(sf, SFC_GET_LOG_INFO, log, sizeof(log));
	if (!(line = strstr(log, "\ndata : ")))
		return false;
	if (!(end = strchr(line + 1, '\n')))
		end = line + strlen(line);
	return memmem(line, (size_t)(end - line), "should be", 9) != NULL;
}

/* Reads every frame, mixing channels down to mono. */
static int read_mono(SNDFILE *sf, unsigned channels, size_t limit, float **out, size_t *n, bool *too_long)
{
	float *buf = malloc(sizeof(float) * READ_CHUNK * channels), *mono = NULL, *grown;
	size_t have = 0, cap = 0;
	sf_count_t got;
	int err = ENOMEM;

	*too_long = false;
	if (!buf)
		goto out;
	while ((got = sf_readf_float(sf, buf, READ_CHUNK)) > 0) {
		if (have + (size_t)got > limit) {
			*too_long = true;
			err = EINVAL;
			goto out;
		}
		if (have + (size_t)got > cap) {
			cap = cap ? cap * 2 : 65536;
			while (cap < have + (size_t)got)
				cap *= 2;
			if (!(grown = realloc(mono, cap * sizeof(float))))
				goto out;
			mono = grown;
		}
		for (sf_count_t i = 0; i < got; i++) {
			float sum = 0;

			for (unsigned c = 0; c < channels; c++)
				sum += buf[(size_t)i * channels + c];
			mono[have++] = sum / (float)channels;
		}
	}
	*out = mono;
	*n = have;
	mono = NULL;
	err = 0;
out:
	free(buf);
	free(mono);
	return err;
}

static int resample(float **out, size_t *n_out, const float *in, size_t n, unsigned from, unsigned to)
{
	double ratio = (double)to / (double)from;
	size_t cap = (size_t)((double)n * ratio) + 64;
	SRC_DATA d = {0};
	float *buf = malloc(cap * sizeof(float));
	int rc;

	if (!buf)
		return ENOMEM;
	if (from == to) {
		memcpy(buf, in, n * sizeof(float));
		*out = buf, *n_out = n;
		return 0;
	}
	d.data_in = in;
	d.input_frames = (long)n;
	d.data_out = buf;
	d.output_frames = (long)cap;
	d.src_ratio = ratio;
	d.end_of_input = 1;
	if ((rc = src_simple(&d, SRC_SINC_MEDIUM_QUALITY, 1))) {
		free(buf);
		return EINVAL;
	}
	*out = buf, *n_out = (size_t)d.output_frames_gen;
	return 0;
}

int rp_pcm_decode(struct rp_pcm *out, const char *path, unsigned max_seconds, char *msg, size_t msglen)
{
	struct rp_pcm p = {0};
	SF_INFO info = {0};
	SNDFILE *sf = sf_open(path, SFM_READ, &info);
	float *mono = NULL;
	size_t n = 0;
	bool too_long;
	int err = EINVAL;

	if (!sf) {
		snprintf(msg, msglen, "not a readable audio file (WAV, FLAC, Ogg/Vorbis or MP3): %s",
			 sf_strerror(NULL));
		goto out;
	}
	if (info.channels < 1 || info.samplerate < 1000 || info.samplerate > 384000) {
		snprintf(msg, msglen, "unsupported stream: %d channels at %d Hz", info.channels,
			 info.samplerate);
		goto out;
	}
	format_of(info.format, &p.format, &p.content_type);
	p.src_rate = (unsigned)info.samplerate;
	p.src_channels = (unsigned)info.channels;
	err = read_mono(sf, p.src_channels, (size_t)max_seconds * p.src_rate, &mono, &n, &too_long);
	if (err) {
		if (too_long)
			snprintf(msg, msglen, "longer than the %u s allowed (max_seconds)", max_seconds);
		else
			snprintf(msg, msglen, "out of memory while decoding");
		goto out;
	}
	if ((info.frames > 0 && (sf_count_t)n < info.frames) || wav_cut(sf)) {
		err = EINVAL;
		snprintf(msg, msglen, "the file is truncated: its header announces more audio than it holds");
		goto out;
	}
	if (sf_error(sf) != SF_ERR_NO_ERROR) {
		err = EINVAL;
		snprintf(msg, msglen, "decoding failed: %s", sf_strerror(sf));
		goto out;
	}
	if (n < p.src_rate / 50) {
		err = EINVAL;
		snprintf(msg, msglen, "no audio: %zu samples (less than 20 ms)", n);
		goto out;
	}
	p.duration_ms = (uint32_t)((uint64_t)n * 1000 / p.src_rate);
	if ((err = resample(&p.wide, &p.n_wide, mono, n, p.src_rate, RP_RATE_WIDE)) ||
	    (err = resample(&p.narrow, &p.n_narrow, mono, n, p.src_rate, RP_RATE_NARROW))) {
		snprintf(msg, msglen, "resampling failed");
		goto out;
	}
	*out = p;
	p = (struct rp_pcm){0};
out:
	if (sf)
		sf_close(sf);
	free(mono);
	rp_pcm_free(&p);
	return err;
}

void rp_pcm_free(struct rp_pcm *p)
{
	free(p->wide);
	free(p->narrow);
	p->wide = p->narrow = NULL;
}
