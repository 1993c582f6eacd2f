//! `rfy new NAME`: a new cargo project for an rfy job: `Cargo.toml`
//! depending on the rfy SDK (by path for now), `src/main.rs` with a small
//! working job (word count), a README and a `.gitignore`.

use std::path::{Path, PathBuf};

/// Why a project could not be made; each message names the path or name.
#[derive(Debug, thiserror::Error)]
pub enum NewProjectError {
    /// The name is not a valid cargo package name.
    #[error("'{0}' is not a valid project name: use letters, digits, '-' and '_', starting with a letter")]
    BadName(String),
    /// The directory exists already.
    #[error("{0} already exists")]
    Exists(PathBuf),
    /// The SDK directory has no `Cargo.toml` of package `rfy`.
    #[error("no rfy SDK at {0} (set --sdk-path or RFY_SDK_PATH to the sdk/ directory of an rfy checkout)")]
    NoSdk(PathBuf),
    /// Writing a file failed.
    #[error("cannot write {path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        error: std::io::Error,
    },
}

/// The SDK of the rfy checkout this binary was built from.
pub fn default_sdk_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("sdk")
}

/// True for a valid cargo package name.
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Creates project `dir` (its last component is the package name) whose
/// `Cargo.toml` depends on the SDK at `sdk`. Returns the files written.
///
/// Errors: a bad name, an existing directory, no SDK at `sdk`, or a write error.
pub fn create(dir: &Path, sdk: &Path) -> Result<Vec<PathBuf>, NewProjectError> {
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if !valid_name(&name) {
        return Err(NewProjectError::BadName(name));
    }
    if dir.exists() {
        return Err(NewProjectError::Exists(dir.to_path_buf()));
    }
    let sdk = sdk.canonicalize().map_err(|_| NewProjectError::NoSdk(sdk.to_path_buf()))?;
    let manifest = std::fs::read_to_string(sdk.join("Cargo.toml")).unwrap_or_default();
    if !manifest.lines().any(|l| l.trim() == "name = \"rfy\"") {
        return Err(NewProjectError::NoSdk(sdk));
    }
    let fill = |t: &str| t.replace("{{name}}", &name).replace("{{sdk}}", &sdk.display().to_string());
    let files = [
        ("Cargo.toml", fill(include_str!("../templates/Cargo.toml.txt"))),
        ("src/main.rs", fill(include_str!("../templates/main.rs.txt"))),
        ("README.md", fill(include_str!("../templates/README.md.txt"))),
        (".gitignore", "/target\n".to_string()),
    ];
    let mut written = Vec::new();
    for (file, text) in files {
        let path = dir.join(file);
        let io = |error| NewProjectError::Io { path: path.clone(), error };
        std::fs::create_dir_all(path.parent().unwrap_or(dir)).map_err(io)?;
        std::fs::write(&path, text).map_err(io)?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_a_project_and_refuses_bad_names_and_existing_dirs() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("clickstats");
        let files = create(&dir, &default_sdk_path()).unwrap();
        assert_eq!(files.len(), 4);
        let cargo = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        assert!(cargo.contains("name = \"clickstats\"") && cargo.contains("/sdk\" }"), "{cargo}");
        let main = std::fs::read_to_string(dir.join("src/main.rs")).unwrap();
        assert!(main.contains("rfy::run(&[JOB])") && !main.contains("{{"), "{main}");
        let e = create(&dir, &default_sdk_path()).unwrap_err().to_string();
        assert!(e.ends_with("clickstats already exists"), "{e}");
        let e = create(&tmp.path().join("9lives"), &default_sdk_path()).unwrap_err().to_string();
        assert!(e.starts_with("'9lives' is not a valid project name"), "{e}");
        let e = create(&tmp.path().join("x"), tmp.path()).unwrap_err().to_string();
        assert!(e.starts_with("no rfy SDK at"), "{e}");
    }
}
