//! rfy-taskmanager (placeholder; being built).
