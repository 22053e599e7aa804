//! The Loro protocol v1 codec (being written).
