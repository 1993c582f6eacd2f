//! The client side of SASL DIGEST-MD5 (RFC 2831) as Hadoop uses it for token
//! authentication (`org.apache.hadoop.security.SaslRpcClient`,
//! `org.apache.hadoop.security.SaslRpcServer`): user name = base64 of the
//! token identifier, password = base64 of the token password, realm from the
//! server's challenge (Hadoop's is `default`), digest-uri
//! `<protocol>/<serverId>` (Hadoop: protocol `""`, server id `default`, so
//! `/default`), qop `auth` only (no integrity or privacy wrapping).

use base64::Engine;
use md5::{Digest, Md5};

/// Errors of the DIGEST-MD5 exchange.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    /// The server's challenge could not be parsed.
    #[error("malformed DIGEST-MD5 challenge: {0}")]
    Malformed(String),
    /// The challenge lacks a required directive.
    #[error("DIGEST-MD5 challenge has no {0} directive")]
    Missing(&'static str),
    /// The server offers no quality of protection rfy supports (only `auth`).
    #[error("server offers qop {0:?}; rfy supports only \"auth\" (set hadoop.rpc.protection=authentication)")]
    UnsupportedQop(Vec<String>),
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
    /// Chosen qop (`auth`).
    pub qop: &'a str,
    /// `digest-uri` value.
    pub digest_uri: &'a str,
    /// Optional authorization id.
    pub authzid: Option<&'a str>,
}

/// Computes the 32-hex-digit `response` value (RFC 2831 §2.1.2.1).
/// With `for_rspauth` the A2 string omits `AUTHENTICATE` (RFC 2831 §2.1.3),
/// giving the value the server must send back as `rspauth`.
pub fn digest_response(p: &DigestParams<'_>, for_rspauth: bool) -> String {
    let urp = md5(&[p.username.as_bytes(), b":", p.realm.as_bytes(), b":", p.password.as_bytes()]);
    let mut a1: Vec<&[u8]> = vec![&urp, b":", p.nonce.as_bytes(), b":", p.cnonce.as_bytes()];
    if let Some(z) = p.authzid {
        a1.push(b":");
        a1.push(z.as_bytes());
    }
    let ha1 = hex(&md5(&a1));
    let method: &[u8] = if for_rspauth { b"" } else { b"AUTHENTICATE" };
    let ha2 = hex(&md5(&[method, b":", p.digest_uri.as_bytes()]));
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

/// A DIGEST-MD5 client for one authentication exchange.
#[derive(Debug, Clone)]
pub struct DigestMd5Client {
    username: String,
    password: String,
    digest_uri: String,
    cnonce: String,
    expected_rspauth: Option<String>,
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
            expected_rspauth: None,
        }
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
    /// `maxbuf`, `response`, `qop`).
    pub fn respond(&mut self, challenge: &[u8]) -> Result<Vec<u8>, DigestError> {
        let c = Challenge::parse(challenge)?;
        if !c.qop.iter().any(|q| q == "auth") {
            return Err(DigestError::UnsupportedQop(c.qop));
        }
        let realm = c.realms.first().cloned().unwrap_or_default();
        let params = DigestParams {
            username: &self.username,
            realm: &realm,
            password: &self.password,
            nonce: &c.nonce,
            cnonce: &self.cnonce,
            nc: "00000001",
            qop: "auth",
            digest_uri: &self.digest_uri,
            authzid: None,
        };
        let response = digest_response(&params, false);
        self.expected_rspauth = Some(digest_response(&params, true));
        let mut out = String::new();
        if c.utf8 {
            out.push_str("charset=utf-8,");
        }
        out.push_str(&format!("username=\"{}\",", quote(&self.username)));
        if !c.realms.is_empty() {
            out.push_str(&format!("realm=\"{}\",", quote(&realm)));
        }
        out.push_str(&format!(
            "nonce=\"{}\",nc=00000001,cnonce=\"{}\",digest-uri=\"{}\",maxbuf=65536,response={},qop=auth",
            quote(&c.nonce),
            quote(&self.cnonce),
            quote(&self.digest_uri),
            response
        ));
        Ok(out.into_bytes())
    }

    /// Checks the server's final message (`rspauth=<hex>`).
    pub fn verify_final(&self, server_final: &[u8]) -> Result<(), DigestError> {
        let expected = self.expected_rspauth.as_deref().ok_or(DigestError::State("final message before a response"))?;
        let d = parse_directives(server_final)?;
        match d.iter().find(|(k, _)| k == "rspauth") {
            Some((_, v)) if v.eq_ignore_ascii_case(expected) => Ok(()),
            Some(_) => Err(DigestError::BadRspAuth),
            None => Err(DigestError::Missing("rspauth")),
        }
    }

    /// Whether a response has been computed (the next server message is the final one).
    pub fn responded(&self) -> bool {
        self.expected_rspauth.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 2831 §4's worked example.
    #[test]
    fn rfc2831_example() {
        let p = DigestParams {
            username: "chris",
            realm: "elwood.innosoft.com",
            password: "secret",
            nonce: "OA6MG9tEQGm2hh",
            cnonce: "OA6MHXh6VqTrRk",
            nc: "00000001",
            qop: "auth",
            digest_uri: "imap/elwood.innosoft.com",
            authzid: None,
        };
        assert_eq!(digest_response(&p, false), "d388dad90d4bbd760a152321f2143af7");
        assert_eq!(digest_response(&p, true), "ea40f60335c427b5527b84dbabcdfffd");
    }

    #[test]
    fn rfc2831_example_through_client() {
        let challenge =
            br#"realm="elwood.innosoft.com",nonce="OA6MG9tEQGm2hh",qop="auth",algorithm=md5-sess,charset=utf-8"#;
        let mut c = DigestMd5Client::with_cnonce(
            "chris".into(),
            "secret".into(),
            "imap",
            "elwood.innosoft.com",
            "OA6MHXh6VqTrRk".into(),
        );
        let r = String::from_utf8(c.respond(challenge).unwrap()).unwrap();
        assert_eq!(
            r,
            "charset=utf-8,username=\"chris\",realm=\"elwood.innosoft.com\",nonce=\"OA6MG9tEQGm2hh\",nc=00000001,cnonce=\"OA6MHXh6VqTrRk\",digest-uri=\"imap/elwood.innosoft.com\",maxbuf=65536,response=d388dad90d4bbd760a152321f2143af7,qop=auth"
        );
        c.verify_final(b"rspauth=ea40f60335c427b5527b84dbabcdfffd").unwrap();
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

    const HADOOP_CASE_RESPONSE: &str = "008acce401efcfa5e3d4ee6ac7efc134";
    const HADOOP_CASE_RSPAUTH: &str = "90b3d95817ac8956dc780b63b0a284af";

    #[test]
    fn qop_and_garbage() {
        let mut c = DigestMd5Client::with_cnonce("u".into(), "p".into(), "", "default", "x".into());
        assert!(matches!(
            c.respond(br#"nonce="n",qop="auth-conf",algorithm=md5-sess"#),
            Err(DigestError::UnsupportedQop(_))
        ));
        assert!(c.respond(br#"realm="x"#).is_err());
        assert!(c.respond(b"no-equals").is_err());
        assert!(c.respond(b"\xff\xfe").is_err());
        assert!(c.verify_final(b"rspauth=1").is_err());
    }
}
