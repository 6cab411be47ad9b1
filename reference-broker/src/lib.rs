//! The reference broker: a sans-IO engine and a thin tokio server around it.
