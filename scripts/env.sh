# Sourced by the scripts: one cargo target directory outside the clone, shared by every
# checkout on this machine, so CI runs reuse compiled dependencies.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/edgeprice/target}"
export EDGEPRICE_DATA="${EDGEPRICE_DATA:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/../shared/data/online_shoppers_train.csv}"
