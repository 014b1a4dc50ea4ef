/* ITU-T G.711 encoders: 16-bit linear PCM to mu-law and A-law, segment by segment. */
#include "audio.h"

/* Index of the highest set bit of v (v > 0). */
static int top_bit(unsigned v)
{
	return 31 - __builtin_clz(v);
}

int16_t rp_pcm16(float v)
{
	float s = v * 32768.0f;

	if (s >= 32767.0f)
		return 32767;
	if (s <= -32768.0f)
		return -32768;
	return (int16_t)(s < 0 ? s - 0.5f : s + 0.5f);
}

/*
 * mu-law works on 14-bit samples (the 16-bit value shifted down, rounding
 * toward minus infinity as G.711's decision levels do): magnitude biased by
 * 33 and clipped at 8159, 3-bit segment, 4-bit step, all bits inverted.
 */
uint8_t rp_g711_ulaw(int16_t sample)
{
	int v = sample >> 2;
	unsigned sign = v < 0 ? 0x80 : 0;
	int mag = v < 0 ? -v : v;
	int seg, mant;

	if (mag > 8159)
		mag = 8159;
	mag += 33;
	seg = top_bit((unsigned)mag) - 5;
	if (seg > 7)
		return (uint8_t) ~(sign | 0x7F);
	mant = (mag >> (seg + 1)) & 0x0F;
	return (uint8_t) ~(sign | (unsigned)(seg << 4) | (unsigned)mant);
}

/* A-law: 12-bit magnitude, linear below 32, 3-bit segment, 4-bit step, even bits inverted (0x55). */
uint8_t rp_g711_alaw(int16_t sample)
{
	int mag = (sample >= 0 ? sample : -(int)sample - 1) >> 3;
	unsigned sign = sample >= 0 ? 0x80 : 0;
	int seg, mant;

	if (mag < 32) {
		seg = 0;
		mant = mag >> 1;
	} else {
		seg = top_bit((unsigned)mag) - 4;
		mant = (mag >> seg) & 0x0F;
	}
	return (uint8_t)((sign | (unsigned)(seg << 4) | (unsigned)mant) ^ 0x55);
}
