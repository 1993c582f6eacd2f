//! rfy-hadoop (placeholder; being built).
