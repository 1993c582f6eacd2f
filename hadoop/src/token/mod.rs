//! Hadoop delegation tokens and the credentials file
//! (`org.apache.hadoop.security.Credentials`,
//! `org.apache.hadoop.security.token.Token`).
//!
//! A YARN container finds its tokens (for the ApplicationMaster: the
//! `YARN_AM_RM_TOKEN`) in the file named by `HADOOP_TOKEN_FILE_LOCATION`.
//! The file is `"HDTS"`, one format byte, then either
//! - format 0, the Writable layout of `Credentials#write`: vint token count,
//!   per token `Text alias` + token (`vint len + identifier`, `vint len +
//!   password`, `Text kind`, `Text service`); then vint secret-key count,
//!   per key `Text alias` + `vint len + bytes`; or
//! - format 1, a varint-length-delimited `CredentialsProto`.
//!
//! The NodeManager writes format 0 today, and rfy writes format 0 when it
//! ships tokens to the containers it starts.

pub mod ident;
pub mod writable;

use prost::Message;

use crate::proto::common::{CredentialsKvProto, CredentialsProto, TokenProto};
use writable::Reader;

/// The magic bytes that open a credentials file (`Credentials.TOKEN_STORAGE_MAGIC`).
pub const TOKEN_STORAGE_MAGIC: &[u8; 4] = b"HDTS";
/// Format byte of the Writable layout (`Credentials.SerializedFormat.WRITABLE`).
pub const FORMAT_WRITABLE: u8 = 0;
/// Format byte of the protobuf layout (`Credentials.SerializedFormat.PROTOBUF`).
pub const FORMAT_PROTOBUF: u8 = 1;
/// Environment variable naming the container's credentials file.
pub const HADOOP_TOKEN_FILE_LOCATION: &str = "HADOOP_TOKEN_FILE_LOCATION";
/// Token kind of the ApplicationMaster ↔ ResourceManager token (`AMRMTokenIdentifier.KIND_NAME`).
pub const KIND_AM_RM_TOKEN: &str = "YARN_AM_RM_TOKEN";
/// Token kind of the per-NodeManager token (`NMTokenIdentifier.KIND`).
pub const KIND_NM_TOKEN: &str = "NMToken";
/// Token kind of a container token (`ContainerTokenIdentifier.KIND`).
pub const KIND_CONTAINER_TOKEN: &str = "ContainerToken";
/// Token kind of an HDFS delegation token.
pub const KIND_HDFS_DELEGATION_TOKEN: &str = "HDFS_DELEGATION_TOKEN";

/// Errors decoding or reading tokens and credentials files.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The input ended before a field was complete.
    #[error("credentials truncated at byte {offset} while reading {what}")]
    Truncated {
        /// Byte offset where the read started.
        offset: usize,
        /// Which field was being read.
        what: &'static str,
    },
    /// A field had an impossible value.
    #[error("malformed credentials at byte {offset}: {reason}")]
    Malformed {
        /// Byte offset of the bad field.
        offset: usize,
        /// What was wrong.
        reason: String,
    },
    /// The file did not start with `HDTS`.
    #[error("not a Hadoop credentials file (magic {found:02x?}, expected \"HDTS\")")]
    BadMagic {
        /// The first bytes found.
        found: Vec<u8>,
    },
    /// The format byte was neither 0 nor 1.
    #[error("unknown credentials format version {0} (known: 0 writable, 1 protobuf)")]
    UnknownFormat(u8),
    /// A protobuf structure failed to decode.
    #[error("cannot decode {what}: {source}")]
    Protobuf {
        /// What was being decoded.
        what: &'static str,
        /// The decoder's error.
        source: prost::DecodeError,
    },
    /// Reading or writing the file failed.
    #[error("credentials file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// `HADOOP_TOKEN_FILE_LOCATION` is not set.
    #[error("environment variable HADOOP_TOKEN_FILE_LOCATION is not set")]
    NoTokenFile,
    /// No token of the wanted kind is in the credentials.
    #[error("no token of kind {kind} in the credentials (have: {have:?})")]
    NotFound {
        /// The kind looked for.
        kind: String,
        /// The kinds present.
        have: Vec<String>,
    },
}

/// A Hadoop security token (`org.apache.hadoop.security.token.Token`):
/// opaque identifier bytes, the password the issuer derived from them, and
/// the kind and service strings.
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    /// The serialized token identifier (for YARN tokens a protobuf message,
    /// see [`ident`]).
    pub identifier: Vec<u8>,
    /// The token password (HMAC of the identifier under the issuer's key).
    pub password: Vec<u8>,
    /// Token kind, e.g. `YARN_AM_RM_TOKEN`, `NMToken`.
    pub kind: String,
    /// Service the token is for, usually `host:port`.
    pub service: String,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the password.
        f.debug_struct("Token")
            .field("kind", &self.kind)
            .field("service", &self.service)
            .field("identifier_len", &self.identifier.len())
            .field("password_len", &self.password.len())
            .finish()
    }
}

impl Token {
    /// Decodes a token from its protobuf form (`TokenProto` in Hadoop's `Security.proto`).
    pub fn from_proto(p: &TokenProto) -> Token {
        Token {
            identifier: p.identifier.clone(),
            password: p.password.clone(),
            kind: p.kind.clone(),
            service: p.service.clone(),
        }
    }

    /// The protobuf form of this token.
    pub fn to_proto(&self) -> TokenProto {
        TokenProto {
            identifier: self.identifier.clone(),
            password: self.password.clone(),
            kind: self.kind.clone(),
            service: self.service.clone(),
        }
    }

    /// Appends the token's Writable form (`Token#write`): vint length +
    /// identifier, vint length + password, `Text` kind, `Text` service.
    pub fn write_writable(&self, out: &mut Vec<u8>) {
        writable::write_bytes(out, &self.identifier);
        writable::write_bytes(out, &self.password);
        writable::write_text(out, &self.kind);
        writable::write_text(out, &self.service);
    }

    /// The token's Writable form in URL-safe base64 without padding
    /// (`Token#encodeToUrlString`), the form the RM REST API takes in
    /// `am-container-spec.credentials.tokens`.
    pub fn encode_to_url_string(&self) -> String {
        use base64::Engine;
        let mut out = Vec::new();
        self.write_writable(&mut out);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(out)
    }

    /// Parses [`Self::encode_to_url_string`]'s form (padding optional).
    pub fn decode_from_url_string(s: &str) -> Result<Token, TokenError> {
        use base64::Engine;
        let bytes =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s.trim().trim_end_matches('=')).map_err(|e| {
                TokenError::Malformed { offset: 0, reason: format!("token URL string is not URL-safe base64: {e}") }
            })?;
        let mut r = Reader::new(&bytes);
        Token::read_writable(&mut r)
    }

    /// Reads a token in Writable form (`Token#readFields`).
    pub fn read_writable(r: &mut Reader<'_>) -> Result<Token, TokenError> {
        Ok(Token {
            identifier: r.bytes("token identifier")?,
            password: r.bytes("token password")?,
            kind: r.text("token kind")?,
            service: r.text("token service")?,
        })
    }
}

/// The contents of a credentials file: tokens and secret keys by alias, in
/// file order (`org.apache.hadoop.security.Credentials`).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    /// `(alias, token)` pairs. The alias of a YARN token is usually its service.
    pub tokens: Vec<(String, Token)>,
    /// `(alias, secret bytes)` pairs.
    pub secret_keys: Vec<(String, Vec<u8>)>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("tokens", &self.tokens)
            .field("secret_keys", &self.secret_keys.iter().map(|(a, _)| a).collect::<Vec<_>>())
            .finish()
    }
}

impl Credentials {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces the token stored under `alias` (as `Credentials#addToken`).
    pub fn add_token(&mut self, alias: impl Into<String>, token: Token) {
        let alias = alias.into();
        if let Some(slot) = self.tokens.iter_mut().find(|(a, _)| *a == alias) {
            slot.1 = token;
        } else {
            self.tokens.push((alias, token));
        }
    }

    /// Adds or replaces the secret key stored under `alias`.
    pub fn add_secret_key(&mut self, alias: impl Into<String>, key: Vec<u8>) {
        let alias = alias.into();
        if let Some(slot) = self.secret_keys.iter_mut().find(|(a, _)| *a == alias) {
            slot.1 = key;
        } else {
            self.secret_keys.push((alias, key));
        }
    }

    /// The secret key stored under `alias`, if any.
    pub fn secret_key(&self, alias: &str) -> Option<&[u8]> {
        self.secret_keys.iter().find(|(a, _)| a == alias).map(|(_, k)| k.as_slice())
    }

    /// The first token of the given kind.
    pub fn token_of_kind(&self, kind: &str) -> Option<&Token> {
        self.tokens.iter().map(|(_, t)| t).find(|t| t.kind == kind)
    }

    /// The first token of the given kind, or [`TokenError::NotFound`] listing the kinds present.
    pub fn require_kind(&self, kind: &str) -> Result<&Token, TokenError> {
        self.token_of_kind(kind).ok_or_else(|| TokenError::NotFound {
            kind: kind.to_string(),
            have: self.tokens.iter().map(|(_, t)| t.kind.clone()).collect(),
        })
    }

    /// The ApplicationMaster's `YARN_AM_RM_TOKEN`, if present.
    pub fn am_rm_token(&self) -> Option<&Token> {
        self.token_of_kind(KIND_AM_RM_TOKEN)
    }

    /// Decodes a whole credentials file (either format).
    ///
    /// Errors: [`TokenError::BadMagic`], [`TokenError::UnknownFormat`],
    /// truncation/malformation errors with the byte offset.
    pub fn decode(bytes: &[u8]) -> Result<Credentials, TokenError> {
        if bytes.len() < 5 || &bytes[..4] != TOKEN_STORAGE_MAGIC {
            return Err(TokenError::BadMagic { found: bytes[..bytes.len().min(4)].to_vec() });
        }
        match bytes[4] {
            FORMAT_WRITABLE => Self::decode_writable_body(&bytes[5..]),
            FORMAT_PROTOBUF => Self::decode_proto_body(&bytes[5..]),
            v => Err(TokenError::UnknownFormat(v)),
        }
    }

    /// Decodes the Writable body (`Credentials#readFields`), i.e. the bytes
    /// after `HDTS` and the format byte. Offsets in errors are relative to the body.
    pub fn decode_writable_body(body: &[u8]) -> Result<Credentials, TokenError> {
        let mut r = Reader::new(body);
        let mut creds = Credentials::new();
        let n = r.len("token count")?;
        for _ in 0..n {
            let alias = r.text("token alias")?;
            let token = Token::read_writable(&mut r)?;
            creds.tokens.push((alias, token));
        }
        let n = r.len("secret key count")?;
        for _ in 0..n {
            let alias = r.text("secret key alias")?;
            let value = r.bytes("secret key")?;
            creds.secret_keys.push((alias, value));
        }
        Ok(creds)
    }

    /// Decodes the protobuf body: one varint-delimited `CredentialsProto`.
    pub fn decode_proto_body(body: &[u8]) -> Result<Credentials, TokenError> {
        let p = CredentialsProto::decode_length_delimited(body)
            .map_err(|source| TokenError::Protobuf { what: "CredentialsProto", source })?;
        let mut creds = Credentials::new();
        for kv in p.tokens {
            if let Some(t) = kv.token {
                creds.tokens.push((kv.alias, Token::from_proto(&t)));
            }
        }
        for kv in p.secrets {
            creds.secret_keys.push((kv.alias, kv.secret.unwrap_or_default()));
        }
        Ok(creds)
    }

    /// Encodes the file in format 0 (Writable), the layout the NodeManager
    /// writes and reads (`Credentials#writeTokenStorageToStream` with `WRITABLE`).
    /// This is also the byte string for `ContainerLaunchContext.tokens`.
    pub fn encode_writable(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        out.extend_from_slice(TOKEN_STORAGE_MAGIC);
        out.push(FORMAT_WRITABLE);
        writable::write_vint(&mut out, self.tokens.len() as i32);
        for (alias, token) in &self.tokens {
            writable::write_text(&mut out, alias);
            token.write_writable(&mut out);
        }
        writable::write_vint(&mut out, self.secret_keys.len() as i32);
        for (alias, value) in &self.secret_keys {
            writable::write_text(&mut out, alias);
            writable::write_bytes(&mut out, value);
        }
        out
    }

    /// Encodes the file in format 1 (protobuf, `Credentials#writeProto`).
    pub fn encode_proto(&self) -> Vec<u8> {
        let p = CredentialsProto {
            tokens: self
                .tokens
                .iter()
                .map(|(a, t)| CredentialsKvProto { alias: a.clone(), token: Some(t.to_proto()), secret: None })
                .collect(),
            secrets: self
                .secret_keys
                .iter()
                .map(|(a, s)| CredentialsKvProto { alias: a.clone(), token: None, secret: Some(s.clone()) })
                .collect(),
        };
        let mut out = Vec::with_capacity(64);
        out.extend_from_slice(TOKEN_STORAGE_MAGIC);
        out.push(FORMAT_PROTOBUF);
        out.extend_from_slice(&p.encode_length_delimited_to_vec());
        out
    }

    /// Reads and decodes a credentials file. Errors name the path.
    pub fn read_file(path: impl AsRef<std::path::Path>) -> Result<Credentials, TokenError> {
        let path = path.as_ref();
        let bytes =
            std::fs::read(path).map_err(|source| TokenError::Io { path: path.display().to_string(), source })?;
        let creds = Self::decode(&bytes)?;
        tracing::debug!(path = %path.display(), tokens = creds.tokens.len(), "read credentials file");
        Ok(creds)
    }

    /// Writes the credentials in format 0 to `path` (created or truncated).
    pub fn write_file(&self, path: impl AsRef<std::path::Path>) -> Result<(), TokenError> {
        let path = path.as_ref();
        std::fs::write(path, self.encode_writable())
            .map_err(|source| TokenError::Io { path: path.display().to_string(), source })
    }

    /// Reads the file named by `HADOOP_TOKEN_FILE_LOCATION`.
    ///
    /// Errors: [`TokenError::NoTokenFile`] when the variable is unset, else as [`Self::read_file`].
    pub fn from_env() -> Result<Credentials, TokenError> {
        let path = std::env::var_os(HADOOP_TOKEN_FILE_LOCATION).ok_or(TokenError::NoTokenFile)?;
        Self::read_file(path)
    }
}

#[cfg(test)]
mod tests;
