//! rfy-rpc (placeholder; being built).
