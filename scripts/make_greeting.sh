#!/usr/bin/env bash
# make_greeting.sh OUT.wav: the default greeting of rtc_player (espeak-ng speech, sox to 48 kHz mono WAV).
# Does nothing when OUT exists; a failure leaves no partial file.
set -euo pipefail
out=${1:-audio/greeting.wav}
[ -s "$out" ] && exit 0
text="Hello, and welcome to sipd. You have reached the demo line: this greeting is streamed to you by the \
rtc player module, over WebRTC or secure RTP. Assign your own audio to any user in the web admin, or with \
sipctl audio assign. Thank you for calling, and goodbye."
tmp=$(mktemp --suffix=.wav)
trap 'rm -f "$tmp" "$out.tmp.wav"' EXIT
espeak-ng -v en-us -s 150 -w "$tmp" "$text"
# A short pause at each end, normalised to -3 dBFS.
sox "$tmp" -r 48000 -c 1 -b 16 "$out.tmp.wav" pad 0.3 0.5 norm -3
mv "$out.tmp.wav" "$out"
echo "setup: made $out ($(soxi -D "$out" | cut -d. -f1) s)"
