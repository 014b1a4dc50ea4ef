"""Does a recording carry the source audio? Envelope correlation (20 ms RMS windows), stdlib only.

    from interop.audiocheck import load_wav, ulaw_decode, envelope_correlation
    r = envelope_correlation(rec_samples, rec_rate, src_samples, src_rate, looped=True)

The recording may start anywhere in the source (and wrap around it when the player loops): the
best normalised cross-correlation of the recording's envelope against the source's over every
offset is returned (1.0: the same envelope). Silence before and after the audio is trimmed.
Command line: python3 audiocheck.py REC.wav SRC.wav
"""

import math
import struct
import sys
import wave

WINDOW_S = 0.02


def load_wav(path):
    """(samples as floats in [-1, 1], mono, rate) of an integer PCM WAV file."""
    with wave.open(path, "rb") as w:
        ch, sw, rate, n = w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()
        data = w.readframes(n)
    if sw == 1:
        vals = [(b - 128) / 128.0 for b in data]
    elif sw == 2:
        vals = [v / 32768.0 for v in struct.unpack("<%dh" % (len(data) // 2), data)]
    elif sw == 3:
        vals = [int.from_bytes(data[i:i + 3], "little", signed=True) / 8388608.0 for i in range(0, len(data), 3)]
    elif sw == 4:
        vals = [v / 2147483648.0 for v in struct.unpack("<%di" % (len(data) // 4), data)]
    else:
        raise ValueError(f"{path}: {sw}-byte samples")
    if ch > 1:
        vals = [sum(vals[i:i + ch]) / ch for i in range(0, len(vals) - ch + 1, ch)]
    return vals, rate


def ulaw_decode(payload):
    """G.711 mu-law bytes to floats (ITU-T G.711 expansion)."""
    out = []
    for b in payload:
        b = ~b & 0xFF
        sign, exp, mant = b & 0x80, (b >> 4) & 0x07, b & 0x0F
        mag = (((mant << 3) + 0x84) << exp) - 0x84
        out.append((-mag if sign else mag) / 32768.0)
    return out


def alaw_decode(payload):
    """G.711 A-law bytes to floats."""
    out = []
    for b in payload:
        b ^= 0x55
        sign, exp, mant = b & 0x80, (b >> 4) & 0x07, b & 0x0F
        mag = (mant << 4) + 8 if exp == 0 else ((mant << 4) + 0x108) << (exp - 1)
        out.append((mag if sign else -mag) / 32768.0)
    return out


def envelope(samples, rate):
    step = max(1, int(rate * WINDOW_S))
    return [math.sqrt(sum(x * x for x in samples[i:i + step]) / step) for i in range(0, len(samples) - step + 1, step)]


def rms_dbfs(samples):
    if not samples:
        return -200.0
    r = math.sqrt(sum(x * x for x in samples) / len(samples))
    return 20 * math.log10(max(r, 1e-10))


def _trim(env, floor_ratio=0.05):
    peak = max(env) if env else 0
    if peak <= 0:
        return []
    idx = [i for i, v in enumerate(env) if v > peak * floor_ratio]
    return env[idx[0]:idx[-1] + 1]


def _ncc(x, y):
    n = len(x)
    mx, my = sum(x) / n, sum(y) / n
    num = sum((p - mx) * (q - my) for p, q in zip(x, y))
    den = math.sqrt(sum((p - mx) ** 2 for p in x) * sum((q - my) ** 2 for q in y))
    return num / den if den else 0.0


def envelope_correlation(rec, rec_rate, src, src_rate, looped=True, max_windows=400):
    """Best normalised correlation of the recording's envelope inside the source's (see above)."""
    a = _trim(envelope(rec, rec_rate))[:max_windows]
    b = envelope(src, src_rate)
    if len(a) < 25 or not b:
        return 0.0
    if looped:
        b = b + b
    if len(a) > len(b):
        a = a[:len(b)]
    return max(_ncc(a, b[o:o + len(a)]) for o in range(0, len(b) - len(a) + 1))


if __name__ == "__main__":
    rec, rr = load_wav(sys.argv[1])
    src, sr = load_wav(sys.argv[2])
    print("recording: %.1f s at %.1f dBFS; envelope correlation with the source: %.3f"
          % (len(rec) / rr, rms_dbfs(rec), envelope_correlation(rec, rr, src, sr)))
