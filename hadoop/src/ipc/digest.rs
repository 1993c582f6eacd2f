//! The client side of SASL DIGEST-MD5 (RFC 2831) as Hadoop uses it for token
//! authentication (`org.apache.hadoop.security.SaslRpcClient`,
//! `org.apache.hadoop.security.SaslRpcServer`): user name = base64 of the
//! token identifier, password = base64 of the token password, realm from the
//! server's challenge (Hadoop's is `default`), digest-uri
//! `<protocol>/<serverId>` (Hadoop: protocol `""`, server id `default`, so
//! `/default`). The qop is the strongest the server offers that
//! `hadoop.rpc.protection` allows ([`RpcProtection`]); for `auth-int` and
//! `auth-conf` (with a cipher, [`DigestCipher`]) the client then hands out the
//! [`SecurityLayer`] that wraps every later message (`DigestMD5Client` in
//! Java's `com.sun.security.sasl.digest`).

use base64::Engine;
use md5::{Digest, Md5};

use super::digest_layer::{Role, SecurityLayer};
use super::qop::{DigestCipher, Qop, RpcProtection};

/// Errors of the DIGEST-MD5 exchange.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    /// The server's challenge could not be parsed.
    #[error("malformed DIGEST-MD5 challenge: {0}")]
    Malformed(String),
    /// The challenge lacks a required directive.
    #[error("DIGEST-MD5 challenge has no {0} directive")]
    Missing(&'static str),
    /// The server offers no quality of protection the client allows.
    #[error(
        "server offers qop {} but {protection} allows only {}: set hadoop.rpc.protection in the Hadoop configuration to the cluster's value",
        .offered.join(","),
        .protection.allowed().iter().map(|q| q.token()).collect::<Vec<_>>().join(",")
    )]
    UnsupportedQop {
        /// The qop tokens the server offered.
        offered: Vec<String>,
        /// What the client allows.
        protection: RpcProtection,
    },
    /// The server offers `auth-conf` only with ciphers rfy lacks (or none).
    #[error(
        "server offers qop auth-conf with ciphers [{}]; rfy supports {} ({protection})",
        .offered.join(","),
        DigestCipher::PREFERENCE.map(DigestCipher::token).join(",")
    )]
    UnsupportedCipher {
        /// The cipher tokens the server offered.
        offered: Vec<String>,
        /// What the client allows.
        protection: RpcProtection,
    },
    /// The server's `rspauth` did not match: the server does not know the token's password.
    #[error("server's rspauth does not match; mutual authentication failed")]
    BadRspAuth,
    /// The exchange was driven out of order.
    #[error("DIGEST-MD5 exchange out of order: {0}")]
    State(&'static str),
}

/// The directives of a server challenge (RFC 2831 §2.1.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Challenge {
    /// Realms offered (Hadoop: `["default"]`).
    pub realms: Vec<String>,
    /// The server nonce.
    pub nonce: String,
    /// Quality-of-protection options offered (default `["auth"]`).
    pub qop: Vec<String>,
    /// Ciphers offered for `auth-conf` (`cipher` directive), e.g. `["3des", "rc4"]`.
    pub ciphers: Vec<String>,
    /// The largest wrapped message the server accepts, bytes (`maxbuf`, default 65536).
    /// rfy wraps each request frame whole, as Hadoop's client does in effect (its
    /// `BufferedOutputStream` passes a frame larger than the buffer through in one
    /// write), and Hadoop's server unwraps tokens of any size.
    pub maxbuf: Option<u32>,
    /// `charset=utf-8` was present.
    pub utf8: bool,
    /// The `algorithm` directive (must be `md5-sess`).
    pub algorithm: String,
}

/// Parses `key=value` / `key="quoted value"` directives separated by commas.
/// Quoted values may contain `\"` escapes. Keys are lower-cased.
pub fn parse_directives(input: &[u8]) -> Result<Vec<(String, String)>, DigestError> {
    let s = std::str::from_utf8(input).map_err(|_| DigestError::Malformed("not UTF-8".into()))?;
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while matches!(chars.peek(), Some(c) if c.is_whitespace() || *c == ',') {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' {
                break;
            }
            key.push(c);
            chars.next();
        }
        if chars.next() != Some('=') {
            return Err(DigestError::Malformed(format!("directive {key:?} has no value")));
        }
        let key = key.trim().to_ascii_lowercase();
        if key.is_empty() {
            return Err(DigestError::Malformed("empty directive name".into()));
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            let mut closed = false;
            while let Some(c) = chars.next() {
                match c {
                    '\\' => match chars.next() {
                        Some(e) => value.push(e),
                        None => break,
                    },
                    '"' => {
                        closed = true;
                        break;
                    }
                    c => value.push(c),
                }
            }
            if !closed {
                return Err(DigestError::Malformed(format!("unterminated quote in {key}")));
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                value.push(c);
                chars.next();
            }
            value = value.trim().to_string();
        }
        out.push((key, value));
    }
    Ok(out)
}

impl Challenge {
    /// Parses a server challenge.
    ///
    /// Errors: [`DigestError::Malformed`], [`DigestError::Missing`] (`nonce`).
    pub fn parse(input: &[u8]) -> Result<Challenge, DigestError> {
        let mut c = Challenge::default();
        let mut have_nonce = false;
        for (k, v) in parse_directives(input)? {
            match k.as_str() {
                "realm" => c.realms.push(v),
                "nonce" => {
                    c.nonce = v;
                    have_nonce = true;
                }
                "qop" => c.qop = v.split(',').map(|q| q.trim().to_string()).collect(),
                "charset" => c.utf8 = v.eq_ignore_ascii_case("utf-8"),
                "algorithm" => c.algorithm = v,
                "cipher" => c.ciphers = v.split(',').map(|q| q.trim().to_string()).filter(|q| !q.is_empty()).collect(),
                "maxbuf" => {
                    c.maxbuf = Some(
                        v.trim()
                            .parse()
                            .map_err(|_| DigestError::Malformed(format!("maxbuf {v:?} is not a number")))?,
                    )
                }
                _ => {}
            }
        }
        if !have_nonce {
            return Err(DigestError::Missing("nonce"));
        }
        if c.qop.is_empty() {
            c.qop.push("auth".into());
        }
        if !c.algorithm.eq_ignore_ascii_case("md5-sess") {
            return Err(DigestError::Malformed(format!("algorithm {:?} (expected md5-sess)", c.algorithm)));
        }
        Ok(c)
    }
}

fn hex(bytes: &[u8]) -> String {
    const H: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(H[(b >> 4) as usize] as char);
        s.push(H[(b & 15) as usize] as char);
    }
    s
}

fn md5(parts: &[&[u8]]) -> [u8; 16] {
    let mut h = Md5::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// The inputs of one DIGEST-MD5 response computation.
#[derive(Debug, Clone)]
pub struct DigestParams<'a> {
    /// `username` directive value.
    pub username: &'a str,
    /// `realm` directive value (may be empty).
    pub realm: &'a str,
    /// The password.
    pub password: &'a str,
    /// Server nonce.
    pub nonce: &'a str,
    /// Client nonce.
    pub cnonce: &'a str,
    /// Nonce count, 8 hex digits (`00000001`).
    pub nc: &'a str,
    /// Chosen qop (`auth`, `auth-int`, `auth-conf`).
    pub qop: &'a str,
    /// `digest-uri` value.
    pub digest_uri: &'a str,
    /// Optional authorization id.
    pub authzid: Option<&'a str>,
}

/// The session key H(A1): the binary MD5 of
/// `A1 = MD5(username:realm:password) : nonce : cnonce [: authzid]` (RFC 2831 §2.1.2.1),
/// from which the security layer's keys derive.
pub fn session_key(p: &DigestParams<'_>) -> [u8; 16] {
    let urp = md5(&[p.username.as_bytes(), b":", p.realm.as_bytes(), b":", p.password.as_bytes()]);
    let mut a1: Vec<&[u8]> = vec![&urp, b":", p.nonce.as_bytes(), b":", p.cnonce.as_bytes()];
    if let Some(z) = p.authzid {
        a1.push(b":");
        a1.push(z.as_bytes());
    }
    md5(&a1)
}

/// A2's suffix for `auth-int` and `auth-conf` (RFC 2831 §2.1.2.1).
const SECURITY_LAYER_MARKER: &[u8] = b":00000000000000000000000000000000";

/// Computes the 32-hex-digit `response` value (RFC 2831 §2.1.2.1).
/// With `for_rspauth` the A2 string omits `AUTHENTICATE` (RFC 2831 §2.1.3),
/// giving the value the server must send back as `rspauth`. For qop
/// `auth-int` and `auth-conf` A2 ends in `:` and 32 zeros.
pub fn digest_response(p: &DigestParams<'_>, for_rspauth: bool) -> String {
    let ha1 = hex(&session_key(p));
    let method: &[u8] = if for_rspauth { b"" } else { b"AUTHENTICATE" };
    let marker: &[u8] = if p.qop == "auth-int" || p.qop == "auth-conf" { SECURITY_LAYER_MARKER } else { b"" };
    let ha2 = hex(&md5(&[method, b":", p.digest_uri.as_bytes(), marker]));
    hex(&md5(&[
        ha1.as_bytes(),
        b":",
        p.nonce.as_bytes(),
        b":",
        p.nc.as_bytes(),
        b":",
        p.cnonce.as_bytes(),
        b":",
        p.qop.as_bytes(),
        b":",
        ha2.as_bytes(),
    ]))
}

fn quote(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// A DIGEST-MD5 client for one authentication exchange. Its `Debug` shows no
/// secret (password, session key).
#[derive(Clone)]
pub struct DigestMd5Client {
    username: String,
    password: String,
    digest_uri: String,
    cnonce: String,
    protection: RpcProtection,
    expected_rspauth: Option<String>,
    /// Set by [`Self::respond`]: the chosen qop, cipher and the session key.
    negotiated: Option<(Qop, Option<DigestCipher>, [u8; 16])>,
    verified: bool,
}

impl std::fmt::Debug for DigestMd5Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DigestMd5Client")
            .field("digest_uri", &self.digest_uri)
            .field("protection", &self.protection)
            .field("qop", &self.qop())
            .field("cipher", &self.cipher())
            .field("verified", &self.verified)
            .finish_non_exhaustive()
    }
}

impl DigestMd5Client {
    /// A client authenticating as `username`/`password` to the service named
    /// `protocol`/`server_name` (the digest-uri), with a random client nonce.
    pub fn new(username: String, password: String, protocol: &str, server_name: &str) -> Self {
        let nonce: [u8; 24] = rand::random();
        Self::with_cnonce(
            username,
            password,
            protocol,
            server_name,
            base64::engine::general_purpose::STANDARD.encode(nonce),
        )
    }

    /// As [`Self::new`] with a fixed client nonce (for tests).
    pub fn with_cnonce(username: String, password: String, protocol: &str, server_name: &str, cnonce: String) -> Self {
        DigestMd5Client {
            username,
            password,
            digest_uri: format!("{protocol}/{server_name}"),
            cnonce,
            protection: RpcProtection::default(),
            expected_rspauth: None,
            negotiated: None,
            verified: false,
        }
    }

    /// The qops this client accepts (default: `authentication` only).
    pub fn with_protection(mut self, protection: RpcProtection) -> Self {
        self.protection = protection;
        self
    }

    /// A client for a Hadoop token: user name and password are the standard
    /// base64 (with padding) of the identifier and password bytes
    /// (`SaslRpcServer#encodeIdentifier`, `#encodePassword`), digest-uri
    /// `<protocol>/<server_id>` from the server's `SaslAuth`.
    pub fn for_token(identifier: &[u8], password: &[u8], protocol: &str, server_id: &str) -> Self {
        let b64 = base64::engine::general_purpose::STANDARD;
        Self::new(b64.encode(identifier), b64.encode(password), protocol, server_id)
    }

    /// Answers the server's challenge with the digest-response
    /// (`charset`, `username`, `realm`, `nonce`, `nc`, `cnonce`, `digest-uri`,
    /// `maxbuf`, `response`, `qop`, and `cipher` for `auth-conf`).
    ///
    /// Errors: [`DigestError::UnsupportedQop`] when the server offers no qop the
    /// client allows, [`DigestError::UnsupportedCipher`] for `auth-conf` without a
    /// cipher rfy has, parse errors of the challenge.
    pub fn respond(&mut self, challenge: &[u8]) -> Result<Vec<u8>, DigestError> {
        let c = Challenge::parse(challenge)?;
        let qop = self.protection.choose(&c.qop).ok_or_else(|| DigestError::UnsupportedQop {
            offered: c.qop.clone(),
            protection: self.protection.clone(),
        })?;
        let cipher = match qop {
            Qop::AuthConf => Some(DigestCipher::choose(&c.ciphers).ok_or_else(|| DigestError::UnsupportedCipher {
                offered: c.ciphers.clone(),
                protection: self.protection.clone(),
            })?),
            _ => None,
        };
        let realm = c.realms.first().cloned().unwrap_or_default();
        let params = DigestParams {
            username: &self.username,
            realm: &realm,
            password: &self.password,
            nonce: &c.nonce,
            cnonce: &self.cnonce,
            nc: "00000001",
            qop: qop.token(),
            digest_uri: &self.digest_uri,
            authzid: None,
        };
        let response = digest_response(&params, false);
        self.expected_rspauth = Some(digest_response(&params, true));
        self.negotiated = Some((qop, cipher, session_key(&params)));
        self.verified = false;
        let mut out = String::new();
        if c.utf8 {
            out.push_str("charset=utf-8,");
        }
        out.push_str(&format!("username=\"{}\",", quote(&self.username)));
        if !c.realms.is_empty() {
            out.push_str(&format!("realm=\"{}\",", quote(&realm)));
        }
        out.push_str(&format!(
            "nonce=\"{}\",nc=00000001,cnonce=\"{}\",digest-uri=\"{}\",maxbuf=65536,response={},qop={}",
            quote(&c.nonce),
            quote(&self.cnonce),
            quote(&self.digest_uri),
            response,
            qop.token()
        ));
        if let Some(cipher) = cipher {
            out.push_str(&format!(",cipher=\"{}\"", cipher.token()));
        }
        Ok(out.into_bytes())
    }

    /// Checks the server's final message (`rspauth=<hex>`).
    pub fn verify_final(&mut self, server_final: &[u8]) -> Result<(), DigestError> {
        let expected = self.expected_rspauth.as_deref().ok_or(DigestError::State("final message before a response"))?;
        let d = parse_directives(server_final)?;
        match d.iter().find(|(k, _)| k == "rspauth") {
            Some((_, v)) if v.eq_ignore_ascii_case(expected) => {
                self.verified = true;
                Ok(())
            }
            Some(_) => Err(DigestError::BadRspAuth),
            None => Err(DigestError::Missing("rspauth")),
        }
    }

    /// Whether a response has been computed (the next server message is the final one).
    pub fn responded(&self) -> bool {
        self.expected_rspauth.is_some()
    }

    /// The qop chosen by [`Self::respond`] (`None` before it).
    pub fn qop(&self) -> Option<Qop> {
        self.negotiated.map(|n| n.0)
    }

    /// The cipher chosen by [`Self::respond`] for `auth-conf`.
    pub fn cipher(&self) -> Option<DigestCipher> {
        self.negotiated.and_then(|n| n.1)
    }

    /// The security layer for the chosen qop once the server's `rspauth` has
    /// been verified: `None` for `auth`, which wraps nothing.
    ///
    /// Errors: [`DigestError::State`] before [`Self::verify_final`] succeeded.
    pub fn security_layer(&self) -> Result<Option<SecurityLayer>, DigestError> {
        let (qop, cipher, h_a1) = self.negotiated.ok_or(DigestError::State("security layer before a response"))?;
        if !self.verified {
            return Err(DigestError::State("security layer before the server's rspauth was verified"));
        }
        Ok(match (qop, cipher) {
            (Qop::Auth, _) => None,
            (Qop::AuthInt, _) => Some(SecurityLayer::integrity(&h_a1, Role::Client)),
            (Qop::AuthConf, Some(c)) => Some(SecurityLayer::privacy(&h_a1, c, Role::Client)),
            (Qop::AuthConf, None) => return Err(DigestError::State("auth-conf without a cipher")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client with the user, password, service, host and cnonce of RFC 2831 §4's worked example.
    fn rfc2831_client() -> DigestMd5Client {
        DigestMd5Client::with_cnonce(
            "chris".into(),
            "secret".into(),
            "imap",
            "elwood.innosoft.com",
            "OA6MHXh6VqTrRk".into(),
        )
    }

    /// The parameters of RFC 2831 §4's worked example.
    fn rfc2831_params() -> DigestParams<'static> {
        DigestParams {
            username: "chris",
            realm: "elwood.innosoft.com",
            password: "secret",
            nonce: "OA6MG9tEQGm2hh",
            cnonce: "OA6MHXh6VqTrRk",
            nc: "00000001",
            qop: "auth",
            digest_uri: "imap/elwood.innosoft.com",
            authzid: None,
        }
    }

    /// RFC 2831 §4's worked example.
    #[test]
    fn rfc2831_example() {
        let p = rfc2831_params();
        assert_eq!(digest_response(&p, false), "d388dad90d4bbd760a152321f2143af7");
        assert_eq!(digest_response(&p, true), "ea40f60335c427b5527b84dbabcdfffd");
    }

    #[test]
    fn rfc2831_example_through_client() {
        let challenge =
            br#"realm="elwood.innosoft.com",nonce="OA6MG9tEQGm2hh",qop="auth",algorithm=md5-sess,charset=utf-8"#;
        let mut c = rfc2831_client();
        let r = String::from_utf8(c.respond(challenge).unwrap()).unwrap();
        assert_eq!(
            r,
            "charset=utf-8,username=\"chris\",realm=\"elwood.innosoft.com\",nonce=\"OA6MG9tEQGm2hh\",nc=00000001,cnonce=\"OA6MHXh6VqTrRk\",digest-uri=\"imap/elwood.innosoft.com\",maxbuf=65536,response=d388dad90d4bbd760a152321f2143af7,qop=auth"
        );
        assert!(c.security_layer().is_err(), "no layer before rspauth");
        c.verify_final(b"rspauth=ea40f60335c427b5527b84dbabcdfffd").unwrap();
        assert!(c.security_layer().unwrap().is_none(), "qop auth wraps nothing");
        assert_eq!(c.verify_final(b"rspauth=00"), Err(DigestError::BadRspAuth));
    }

    /// A Hadoop-style token exchange: identifier and password bytes become
    /// base64 user name and password, realm `default`, digest-uri `/default`.
    /// Expected values computed independently (Python hashlib).
    #[test]
    fn hadoop_token_case() {
        let b64 = base64::engine::general_purpose::STANDARD;
        let identifier = [0x0a, 0x0c, 0x0a, 0x08, 0x08, 0x01, 0x10, 0xe8, 0x07, 0x10, 0x01, 0x10, 0x05];
        let password = [0x9f, 0x12, 0x00, 0xff, 0x42];
        let mut c = DigestMd5Client::with_cnonce(
            b64.encode(identifier),
            b64.encode(password),
            "",
            "default",
            "cnonce123".into(),
        );
        assert_eq!(b64.encode(identifier), "CgwKCAgBEOgHEAEQBQ==");
        assert_eq!(b64.encode(password), "nxIA/0I=");
        let challenge = br#"realm="default",nonce="bm9uY2U=",qop="auth",charset=utf-8,algorithm=md5-sess"#;
        let r = String::from_utf8(c.respond(challenge).unwrap()).unwrap();
        assert!(r.contains("digest-uri=\"/default\""), "{r}");
        assert!(r.contains("username=\"CgwKCAgBEOgHEAEQBQ==\""), "{r}");
        assert!(r.contains(&format!("response={}", HADOOP_CASE_RESPONSE)), "{r}");
        c.verify_final(format!("rspauth={HADOOP_CASE_RSPAUTH}").as_bytes()).unwrap();
    }

    /// RFC 2831 §4's values with a security layer: A2 gains `:` and 32 zeros,
    /// the response carries the qop and, for auth-conf, the chosen cipher.
    /// Expected values from Python's hashlib.
    #[test]
    fn security_layer_qops_through_client() {
        let challenge = br#"realm="elwood.innosoft.com",nonce="OA6MG9tEQGm2hh",qop="auth,auth-int,auth-conf",cipher="rc4-40,rc4,3des",maxbuf=4096,algorithm=md5-sess,charset=utf-8"#;
        let cases = [
            (
                Qop::AuthInt,
                &[Qop::AuthInt, Qop::Auth][..],
                "89fdc8198a2499ec4b6d0045c00ae24a",
                "2342e4b9b84956beda20b94d83cc8fe0",
            ),
            (
                Qop::AuthConf,
                &[Qop::AuthConf, Qop::AuthInt, Qop::Auth][..],
                "c7d2efa41f50398d289b732a0c09f381",
                "e2b2f2d1742ec87e03e40f22efdeaac8",
            ),
        ];
        for (qop, allowed, response, rspauth) in cases {
            let mut c = rfc2831_client().with_protection(RpcProtection::of(allowed));
            let r = String::from_utf8(c.respond(challenge).unwrap()).unwrap();
            assert!(r.contains(&format!("response={response},qop={qop}")), "{r}");
            assert_eq!(c.qop(), Some(qop));
            if qop == Qop::AuthConf {
                assert!(r.ends_with(",cipher=\"3des\""), "3des is preferred over rc4: {r}");
                assert_eq!(c.cipher(), Some(DigestCipher::TripleDes));
            } else {
                assert!(!r.contains("cipher"), "{r}");
            }
            assert!(
                c.verify_final(b"rspauth=ea40f60335c427b5527b84dbabcdfffd").is_err(),
                "auth's rspauth is wrong here"
            );
            c.verify_final(format!("rspauth={rspauth}").as_bytes()).unwrap();
            let layer = c.security_layer().unwrap().expect("a wrapping qop has a layer");
            assert_eq!(layer.sender.cipher(), c.cipher());
        }
        let a1 = rfc2831_params();
        assert_eq!(hex(&session_key(&a1)), "a2549853149b0536f01f0b850c643c57");
    }

    #[test]
    fn auth_conf_without_a_known_cipher_is_one_clear_line() {
        let mut c = DigestMd5Client::with_cnonce("u".into(), "p".into(), "", "default", "x".into())
            .with_protection(RpcProtection::of(&[Qop::AuthConf]));
        for ch in [
            &br#"nonce="n",qop="auth-conf",cipher="aes,chacha",algorithm=md5-sess"#[..],
            br#"nonce="n",qop="auth-conf",algorithm=md5-sess"#,
        ] {
            let e = c.respond(ch).unwrap_err();
            assert!(matches!(e, DigestError::UnsupportedCipher { .. }), "{e:?}");
            let line = e.to_string();
            assert!(
                line.contains("3des,rc4") && line.contains("hadoop.rpc.protection=privacy") && !line.contains('\n'),
                "{line}"
            );
        }
        let e = c.respond(br#"nonce="n",qop="auth-conf",cipher="aes",algorithm=md5-sess"#).unwrap_err().to_string();
        assert!(e.contains("[aes]"), "{e}");
    }

    const HADOOP_CASE_RESPONSE: &str = "008acce401efcfa5e3d4ee6ac7efc134";
    const HADOOP_CASE_RSPAUTH: &str = "90b3d95817ac8956dc780b63b0a284af";

    #[test]
    fn qop_and_garbage() {
        let mut c = DigestMd5Client::with_cnonce("u".into(), "p".into(), "", "default", "x".into());
        let e = c.respond(br#"nonce="n",qop="auth-conf",algorithm=md5-sess"#).unwrap_err();
        assert!(matches!(e, DigestError::UnsupportedQop { .. }), "{e:?}");
        let line = e.to_string();
        assert!(
            line.contains("auth-conf") && line.contains("hadoop.rpc.protection=authentication"),
            "error names offer and setting: {line}"
        );
        assert!(c.respond(br#"realm="x"#).is_err());
        assert!(c.respond(b"no-equals").is_err());
        assert!(c.respond(b"\xff\xfe").is_err());
        assert!(c.verify_final(b"rspauth=1").is_err());
    }
}
