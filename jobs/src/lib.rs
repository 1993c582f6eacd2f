//! rfy-jobs (placeholder; being built).
