//! Standard Webhooks signatures, computed independently of `webmon-notify` (plain HMAC
//! over `id.timestamp.body`), so a test that compares them checks the sender's.

use base64::Engine as _;
use hmac::{KeyInit, Mac};

/// The `webhook-signature` value a receiver expects: `v1,` + base64 of HMAC-SHA256 over
/// `{id}.{timestamp}.{body}`, keyed with the base64 part of a `whsec_` secret.
pub fn standard_webhook_signature(secret: &str, id: &str, timestamp: &str, body: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    let key = b64
        .decode(secret.strip_prefix("whsec_").expect("a whsec_ secret"))
        .expect("a base64 secret");
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).expect("any key length");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    format!("v1,{}", b64.encode(mac.finalize().into_bytes()))
}
