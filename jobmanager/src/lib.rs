//! rfy-jobmanager (placeholder; being built).
