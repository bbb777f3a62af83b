# Shared by the experiment scripts (sourced, not run). Expects $root (the data root).

# The medseg binary: $MEDSEG if set, else target/release/medseg, built (or brought up to date) here.
medseg_binary() {
    if [ -n "${MEDSEG:-}" ]; then
        echo "$MEDSEG"
        return
    fi
    cargo build --release -p medseg-cli >&2 || exit 2
    echo target/release/medseg
}

# Exits with code 2 unless $root is an existing folder.
require_root() {
    if [ ! -d "$root" ]; then
        echo "error: data root $root does not exist" >&2
        exit 2
    fi
}

# The dataset folder for a configs/ subfolder: configs/<dataset>/ or configs/<dataset>-<study>/.
dataset_dir() {
    case "${1%%-*}" in
        drive) echo "$root/DRIVE" ;;
        stare) echo "$root/STARE" ;;
        ph2) echo "$root/PH2" ;;
        *) echo "$root/$1" ;;
    esac
}
