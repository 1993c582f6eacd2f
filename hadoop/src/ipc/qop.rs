//! Quality of protection of a SASL-authenticated Hadoop IPC connection.
//!
//! `hadoop.rpc.protection` (`org.apache.hadoop.security.SaslRpcServer.QualityOfProtection`)
//! lists what the client accepts: `authentication` (SASL qop `auth`), `integrity`
//! (`auth-int`: every message carries an HMAC-MD5) and `privacy` (`auth-conf`:
//! every message is also encrypted). A DIGEST-MD5 server lists the qops it offers
//! in its challenge; the client takes the strongest one it also allows. With
//! `auth-conf` the server also lists its ciphers (Java's
//! `com.sun.security.sasl.digest`: `3des,rc4,des,rc4-56,rc4-40`) and the client
//! takes the first of its own preference order (Java's default strength order
//! `high,medium,low`).

use crate::config::{ConfigError, HadoopConfig};

/// `hadoop.rpc.protection`: comma-separated `authentication`, `integrity`, `privacy`
/// (Hadoop default `authentication`).
pub const RPC_PROTECTION: &str = "hadoop.rpc.protection";

/// A SASL quality of protection (RFC 2831 §2.1.1 `qop-options`), weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Qop {
    /// `auth`: authentication only; messages travel as they are.
    Auth,
    /// `auth-int`: every message is followed by a MAC and a sequence number.
    AuthInt,
    /// `auth-conf`: every message is encrypted, then MAC'd and numbered.
    AuthConf,
}

impl Qop {
    /// All qops, strongest first (the order the client prefers them in).
    pub const STRONGEST_FIRST: [Qop; 3] = [Qop::AuthConf, Qop::AuthInt, Qop::Auth];

    /// The token in a DIGEST-MD5 challenge or response (`auth`, `auth-int`, `auth-conf`).
    pub fn token(self) -> &'static str {
        match self {
            Qop::Auth => "auth",
            Qop::AuthInt => "auth-int",
            Qop::AuthConf => "auth-conf",
        }
    }

    /// The `hadoop.rpc.protection` value naming this qop.
    pub fn protection_name(self) -> &'static str {
        match self {
            Qop::Auth => "authentication",
            Qop::AuthInt => "integrity",
            Qop::AuthConf => "privacy",
        }
    }

    /// Parses a challenge token (case-insensitive); `None` for an unknown one.
    pub fn from_token(token: &str) -> Option<Qop> {
        Qop::STRONGEST_FIRST.into_iter().find(|q| q.token().eq_ignore_ascii_case(token.trim()))
    }

    /// Whether messages after authentication are wrapped (`auth-int`, `auth-conf`).
    pub fn wraps(self) -> bool {
        self != Qop::Auth
    }
}

impl std::fmt::Display for Qop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.token())
    }
}

/// A DIGEST-MD5 `auth-conf` cipher (RFC 2831 §2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DigestCipher {
    /// `3des`: two-key triple DES (EDE, K1 K2 K1) in CBC mode, 8-byte blocks.
    TripleDes,
    /// `rc4`: RC4 with a 128-bit key.
    Rc4,
    /// `des`: single DES in CBC mode, 8-byte blocks.
    Des,
    /// `rc4-56`: RC4 whose key derives from 56 bits of the session key.
    Rc4_56,
    /// `rc4-40`: RC4 whose key derives from 40 bits of the session key.
    Rc4_40,
}

impl DigestCipher {
    /// rfy's preference, strongest first: Java's client order for its default
    /// strength list `high,medium,low` (`DigestMD5Client#findCipherAndStrength`).
    pub const PREFERENCE: [DigestCipher; 5] =
        [DigestCipher::TripleDes, DigestCipher::Rc4, DigestCipher::Des, DigestCipher::Rc4_56, DigestCipher::Rc4_40];

    /// The token in a DIGEST-MD5 challenge or response.
    pub fn token(self) -> &'static str {
        match self {
            DigestCipher::TripleDes => "3des",
            DigestCipher::Rc4 => "rc4",
            DigestCipher::Des => "des",
            DigestCipher::Rc4_56 => "rc4-56",
            DigestCipher::Rc4_40 => "rc4-40",
        }
    }

    /// Bytes of the session key H(A1) that go into the sealing keys Kcc/Kcs
    /// (`DigestMD5Base.DigestPrivacy#generatePrivacyKeyPair`: 5 for rc4-40,
    /// 7 for rc4-56, 16 otherwise).
    pub fn session_key_bytes(self) -> usize {
        match self {
            DigestCipher::Rc4_40 => 5,
            DigestCipher::Rc4_56 => 7,
            _ => 16,
        }
    }

    /// The cipher's block size in bytes (1 for the RC4 stream cipher).
    pub fn block_size(self) -> usize {
        match self {
            DigestCipher::TripleDes | DigestCipher::Des => 8,
            _ => 1,
        }
    }

    /// The first cipher of [`Self::PREFERENCE`] among the server's `offered` tokens.
    pub fn choose(offered: &[String]) -> Option<DigestCipher> {
        DigestCipher::PREFERENCE.into_iter().find(|c| offered.iter().any(|o| o.trim() == c.token()))
    }
}

impl std::fmt::Display for DigestCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.token())
    }
}

/// The qops a client accepts (`hadoop.rpc.protection`). Default: `authentication`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcProtection {
    allowed: Vec<Qop>,
}

impl Default for RpcProtection {
    fn default() -> Self {
        RpcProtection { allowed: vec![Qop::Auth] }
    }
}

impl RpcProtection {
    /// Accepts exactly `qops` (order does not matter; the strongest offered wins).
    /// An empty list means the default, `authentication`.
    pub fn of(qops: &[Qop]) -> Self {
        let mut allowed: Vec<Qop> = Qop::STRONGEST_FIRST.into_iter().filter(|q| qops.contains(q)).collect();
        if allowed.is_empty() {
            allowed.push(Qop::Auth);
        }
        RpcProtection { allowed }
    }

    /// Parses a `hadoop.rpc.protection` value: comma-separated, case-insensitive
    /// `authentication`, `integrity`, `privacy`; blank means the default.
    ///
    /// Errors: the unknown word.
    pub fn parse(value: &str) -> Result<Self, String> {
        let mut qops = Vec::new();
        for word in value.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            let q =
                Qop::STRONGEST_FIRST.into_iter().find(|q| q.protection_name().eq_ignore_ascii_case(word)).ok_or_else(
                    || format!("unknown protection {word:?} (expected authentication, integrity or privacy)"),
                )?;
            qops.push(q);
        }
        Ok(Self::of(&qops))
    }

    /// Reads `hadoop.rpc.protection` from `conf`.
    ///
    /// Errors: [`ConfigError::BadValue`] naming the key and the file that set it.
    pub fn from_conf(conf: &HadoopConfig) -> Result<Self, ConfigError> {
        let value = conf.get_trimmed_or(RPC_PROTECTION, "authentication");
        Self::parse(&value).map_err(|reason| ConfigError::BadValue {
            key: RPC_PROTECTION.to_string(),
            value: value.clone(),
            source_name: conf.source_of(RPC_PROTECTION).unwrap_or("default").to_string(),
            reason,
        })
    }

    /// The accepted qops, strongest first.
    pub fn allowed(&self) -> &[Qop] {
        &self.allowed
    }

    /// Whether `qop` is accepted.
    pub fn allows(&self, qop: Qop) -> bool {
        self.allowed.contains(&qop)
    }

    /// The strongest qop among the server's `offered` tokens that is accepted.
    pub fn choose(&self, offered: &[String]) -> Option<Qop> {
        self.allowed.iter().copied().find(|q| offered.iter().any(|o| Qop::from_token(o) == Some(*q)))
    }

    /// The configuration value this stands for, e.g. `privacy,integrity`.
    pub fn config_value(&self) -> String {
        self.allowed.iter().map(|q| q.protection_name()).collect::<Vec<_>>().join(",")
    }
}

impl std::fmt::Display for RpcProtection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{RPC_PROTECTION}={}", self.config_value())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offered(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parse_protection_values() {
        assert_eq!(RpcProtection::parse("").unwrap(), RpcProtection::default());
        assert_eq!(RpcProtection::parse("privacy").unwrap().allowed(), &[Qop::AuthConf]);
        assert_eq!(
            RpcProtection::parse(" Authentication , PRIVACY,integrity").unwrap().allowed(),
            &[Qop::AuthConf, Qop::AuthInt, Qop::Auth]
        );
        let e = RpcProtection::parse("privacy,secret").unwrap_err();
        assert!(e.contains("\"secret\""), "{e}");
        assert_eq!(
            RpcProtection::parse("integrity,authentication").unwrap().config_value(),
            "integrity,authentication"
        );
    }

    #[test]
    fn strongest_offered_and_allowed_wins() {
        let all = RpcProtection::of(&[Qop::Auth, Qop::AuthInt, Qop::AuthConf]);
        assert_eq!(all.choose(&offered(&["auth", "auth-int", "auth-conf"])), Some(Qop::AuthConf));
        assert_eq!(all.choose(&offered(&["auth-int", "auth"])), Some(Qop::AuthInt));
        let auth_only = RpcProtection::default();
        assert_eq!(auth_only.choose(&offered(&["auth-conf"])), None);
        assert_eq!(auth_only.choose(&offered(&["auth-conf", "auth"])), Some(Qop::Auth));
        let int = RpcProtection::of(&[Qop::AuthInt]);
        assert_eq!(int.choose(&offered(&["auth-conf", "AUTH-INT"])), Some(Qop::AuthInt));
        assert_eq!(int.choose(&offered(&["bogus"])), None);
    }

    #[test]
    fn cipher_preference_follows_java() {
        assert_eq!(
            DigestCipher::choose(&offered(&["3des", "rc4", "des", "rc4-56", "rc4-40"])),
            Some(DigestCipher::TripleDes)
        );
        assert_eq!(DigestCipher::choose(&offered(&["rc4-40", "rc4"])), Some(DigestCipher::Rc4));
        assert_eq!(DigestCipher::choose(&offered(&["rc4-40", "des"])), Some(DigestCipher::Des));
        assert_eq!(DigestCipher::choose(&offered(&["aes"])), None);
    }

    #[test]
    fn protection_from_conf_names_the_key() {
        let mut conf = HadoopConfig::new();
        assert_eq!(RpcProtection::from_conf(&conf).unwrap(), RpcProtection::default());
        conf.set(RPC_PROTECTION, "privacy");
        assert_eq!(RpcProtection::from_conf(&conf).unwrap().allowed(), &[Qop::AuthConf]);
        conf.set(RPC_PROTECTION, "paranoid");
        let e = RpcProtection::from_conf(&conf).unwrap_err().to_string();
        assert!(e.contains(RPC_PROTECTION) && e.contains("paranoid"), "{e}");
    }
}
