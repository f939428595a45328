//! rill-net: Fluss protocol (issue 4/6).
