# shellcheck shell=bash
# A virtual microphone for `digits listen` tests on a headless machine.
#
# Source it (`. .ci/pulse-mic.sh`): it installs PulseAudio and the ALSA
# pulse plugin if missing, starts a daemon with a null sink `vsink`, and
# makes the sink's monitor the default source. ALSA's `default` device
# (what cpal opens) then records whatever `paplay` plays into the sink.
# It exports XDG_RUNTIME_DIR so later commands find the daemon. Safe to
# source twice. See shared notes, crates-and-platform.md §5.

digits_pulse_mic() {
    local missing=0
    command -v pulseaudio >/dev/null || missing=1
    command -v paplay >/dev/null || missing=1
    # The ALSA -> pulse bridge (libasound2-plugins).
    compgen -G '/usr/lib/*/alsa-lib/libasound_module_pcm_pulse.so' >/dev/null || missing=1
    if [ "$missing" = 1 ]; then
        apt-get update -qq || return 1
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
            pulseaudio pulseaudio-utils libasound2-plugins >/dev/null || return 1
    fi
    if [ -z "${XDG_RUNTIME_DIR:-}" ]; then
        # A fixed place, so sourcing again (another shell) finds the daemon.
        XDG_RUNTIME_DIR="/tmp/digits-pulse-$(id -u)"
    fi
    mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR" || return 1
    export XDG_RUNTIME_DIR
    if ! pactl info >/dev/null 2>&1; then
        # -n: no default.pa (no hardware modules on a machine without sound
        # cards); --exit-idle-time=-1: keep running between test steps.
        # Running as root only prints a warning.
        pulseaudio -n --daemonize=yes --exit-idle-time=-1 \
            -L module-native-protocol-unix \
            -L "module-null-sink sink_name=vsink" \
            -L module-always-sink 2>/dev/null || return 1
        local i
        for i in $(seq 50); do
            pactl info >/dev/null 2>&1 && break
            sleep 0.1
        done
    fi
    pactl set-default-sink vsink || return 1
    pactl set-default-source vsink.monitor || return 1
    echo "pulse-mic: default source $(pactl get-default-source) (XDG_RUNTIME_DIR=$XDG_RUNTIME_DIR)" >&2
}

digits_pulse_mic
