//! Origin allow-list, tokens and rate limits (being written).
