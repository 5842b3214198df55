#!/usr/bin/env python3
"""What a PCM16 WAV file holds, for the Wine tests: one line
"frames=N rate=HZ channels=C rms_dbfs=X peak_dbfs=Y freq_hz=F" (the first channel; the frequency
from the rising zero crossings of the middle of the file, skipping its first and last 10 %).
Standard library only."""
import math
import struct
import sys
import wave

with wave.open(sys.argv[1], "rb") as w:
    frames, rate, ch = w.getnframes(), w.getframerate(), w.getnchannels()
    assert w.getsampwidth() == 2, "PCM16 expected"
    raw = w.readframes(frames)
x = struct.unpack("<%dh" % (len(raw) // 2), raw)[::ch]
x = [s / 32768.0 for s in x]
mid = x[len(x) // 10 : len(x) - len(x) // 10] or x
rms = math.sqrt(sum(s * s for s in mid) / max(len(mid), 1))
peak = max((abs(s) for s in mid), default=0.0)
db = lambda v: 20 * math.log10(v) if v > 0 else -120.0
ups = [i for i in range(1, len(mid)) if mid[i - 1] < 0 <= mid[i]]
freq = (len(ups) - 1) * rate / (ups[-1] - ups[0]) if len(ups) > 2 else 0.0
print(f"frames={frames} rate={rate} channels={ch} rms_dbfs={db(rms):.2f} peak_dbfs={db(peak):.2f} freq_hz={freq:.1f}")
