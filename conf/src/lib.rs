//! rfy-conf (placeholder; being built).
