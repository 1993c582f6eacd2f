//! rfy-runtime (placeholder; being built).
