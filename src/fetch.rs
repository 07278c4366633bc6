//! Downloading `mteb/free-spoken-digit-dataset` with hf-hub. (Being written.)
