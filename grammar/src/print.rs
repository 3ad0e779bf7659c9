//! Pretty-printer (stub).
