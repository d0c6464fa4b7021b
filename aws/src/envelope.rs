//! The result message: many results per SQS message.
//!
//! A message body is the JSON envelope `{"version":1,"results":[...]}`, or, when that is
//! larger than [`COMPRESS_ABOVE`] bytes, the same JSON gzipped and base64-encoded (the
//! body then starts with `H4sI`, gzip's magic in base64). Compression matters because
//! SQS bills each 64 KiB of payload as one request: probe results compress about tenfold.

use std::io::{Read, Write};

use base64::Engine;
use flate2::{read::GzDecoder, write::GzEncoder, Compression};
use serde::{Deserialize, Serialize};
use webmon_core::result::ProbeResult;

use crate::AwsError;

/// Version of the envelope format.
pub const ENVELOPE_VERSION: u32 = 1;
/// Largest message body SQS accepts: 256 KiB.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;
/// Largest total payload of one `SendMessageBatch` call: 256 KiB.
pub const MAX_BATCH_BYTES: usize = 256 * 1024;
/// Most entries in one `SendMessageBatch` call.
pub const MAX_BATCH_ENTRIES: usize = 10;
/// SQS bills each started 64 KiB chunk of payload as one request.
pub const BILLING_CHUNK_BYTES: usize = 64 * 1024;
/// Bodies larger than this are compressed.
pub const COMPRESS_ABOVE: usize = 2 * 1024;
/// Most bytes a message body may decode to. Encoding puts at most 1.5 MiB of JSON (plus
/// one result) in a message, so honest messages stay far below; a body inflating
/// beyond (a decompression bomb) is refused without inflating the rest.
pub const MAX_DECODED_BYTES: usize = 4 * 1024 * 1024;
/// Raw JSON budget per message before compression (split again if it compresses badly).
const RAW_BUDGET: usize = 1536 * 1024;
/// Room kept for the envelope itself and SQS attributes.
const SAFETY_BYTES: usize = 1024;

#[derive(Serialize)]
struct EnvelopeOut<'a> {
    version: u32,
    results: &'a [ProbeResult],
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EnvelopeIn {
    version: u32,
    results: Vec<serde_json::Value>,
}

/// A decoded message: the results that parsed, and the ones that did not.
#[derive(Debug, Default)]
pub struct Decoded {
    /// Results that parsed.
    pub results: Vec<ProbeResult>,
    /// `(index, reason)` of results that did not parse.
    pub invalid: Vec<(usize, String)>,
}

/// Encodes results into message bodies, each at most `max_bytes` long (and at most
/// [`MAX_MESSAGE_BYTES`]). A single result too large for a message is shrunk to fit
/// ([`ProbeResult::shrink_to`]: text is given up, numbers and ids are kept), so one
/// oversized result never fails the send of the others.
pub fn encode(results: &[ProbeResult], max_bytes: usize) -> Result<Vec<String>, AwsError> {
    let max_bytes = max_bytes.min(MAX_MESSAGE_BYTES) - SAFETY_BYTES;
    let mut bodies = Vec::new();
    let mut start = 0;
    let mut raw = 0;
    for (i, result) in results.iter().enumerate() {
        let size = serde_json::to_vec(result).map(|v| v.len()).unwrap_or(0) + 1;
        if i > start && raw + size > RAW_BUDGET {
            encode_chunk(&results[start..i], max_bytes, &mut bodies)?;
            start = i;
            raw = 0;
        }
        raw += size;
    }
    if start < results.len() {
        encode_chunk(&results[start..], max_bytes, &mut bodies)?;
    }
    Ok(bodies)
}

fn encode_chunk(
    chunk: &[ProbeResult],
    max_bytes: usize,
    out: &mut Vec<String>,
) -> Result<(), AwsError> {
    let body = encode_one(chunk)?;
    if body.len() <= max_bytes {
        out.push(body);
        return Ok(());
    }
    if chunk.len() == 1 {
        let mut shrunk = chunk[0].clone();
        // Half the room: the JSON shrinks to it, and compression only makes it smaller
        // (base64 adds a third back at most).
        if shrunk.shrink_to(max_bytes / 2) {
            let body = encode_one(std::slice::from_ref(&shrunk))?;
            if body.len() <= max_bytes {
                tracing::warn!(check_id = %shrunk.check_id, "an oversized result was shrunk to fit one message");
                out.push(body);
                return Ok(());
            }
        }
        return Err(AwsError::Codec {
            what: format!("encode the result of check {}", chunk[0].check_id),
            reason: format!(
                "it takes {} bytes, more than a message holds ({max_bytes})",
                body.len()
            ),
        });
    }
    let (a, b) = chunk.split_at(chunk.len() / 2);
    encode_chunk(a, max_bytes, out)?;
    encode_chunk(b, max_bytes, out)
}

/// Encodes one message body holding every result given.
pub fn encode_one(results: &[ProbeResult]) -> Result<String, AwsError> {
    let json = serde_json::to_vec(&EnvelopeOut {
        version: ENVELOPE_VERSION,
        results,
    })
    .map_err(|e| AwsError::Codec {
        what: "encode a result envelope".into(),
        reason: e.to_string(),
    })?;
    if json.len() <= COMPRESS_ABOVE {
        return Ok(String::from_utf8(json).expect("serde_json writes UTF-8"));
    }
    let mut gz = GzEncoder::new(Vec::with_capacity(json.len() / 6), Compression::default());
    gz.write_all(&json)
        .and_then(|_| gz.finish())
        .map(|bytes| base64::engine::general_purpose::STANDARD.encode(bytes))
        .map_err(|e| AwsError::Codec {
            what: "compress a result envelope".into(),
            reason: e.to_string(),
        })
}

/// Decodes a message body. The whole message is refused (`Err`) when it is not an
/// envelope we understand; single results that do not parse are listed in
/// [`Decoded::invalid`].
pub fn decode(body: &str) -> Result<Decoded, String> {
    let trimmed = body.trim_start();
    if trimmed.len() > MAX_DECODED_BYTES {
        return Err(format!(
            "is {} bytes long, more than {MAX_DECODED_BYTES}",
            trimmed.len()
        ));
    }
    let json: Vec<u8> = if trimmed.starts_with('{') {
        trimmed.as_bytes().to_vec()
    } else {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(trimmed.trim_end())
            .map_err(|e| format!("is neither JSON nor base64 ({e})"))?;
        let mut out = Vec::new();
        GzDecoder::new(bytes.as_slice())
            .take(MAX_DECODED_BYTES as u64 + 1)
            .read_to_end(&mut out)
            .map_err(|e| format!("is not gzip data ({e})"))?;
        if out.len() > MAX_DECODED_BYTES {
            return Err(format!(
                "inflates to more than {MAX_DECODED_BYTES} bytes (from {} compressed); refused as a decompression bomb",
                bytes.len()
            ));
        }
        out
    };
    let envelope: EnvelopeIn =
        serde_json::from_slice(&json).map_err(|e| format!("is not a result envelope ({e})"))?;
    if envelope.version != ENVELOPE_VERSION {
        return Err(format!(
            "has envelope version {}, expected {ENVELOPE_VERSION}",
            envelope.version
        ));
    }
    let mut decoded = Decoded::default();
    for (i, value) in envelope.results.into_iter().enumerate() {
        match serde_json::from_value::<ProbeResult>(value) {
            Ok(r) if r.version == webmon_core::result::RESULT_VERSION => decoded.results.push(r),
            Ok(r) => decoded
                .invalid
                .push((i, format!("result version {} is not supported", r.version))),
            Err(e) => decoded.invalid.push((i, e.to_string())),
        }
    }
    Ok(decoded)
}

/// Groups message bodies into `SendMessageBatch` calls: at most
/// [`MAX_BATCH_ENTRIES`] entries and [`MAX_BATCH_BYTES`] bytes each.
pub fn batches(bodies: &[String]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, body) in bodies.iter().enumerate() {
        if i > start && (i - start == MAX_BATCH_ENTRIES || bytes + body.len() > MAX_BATCH_BYTES) {
            out.push(start..i);
            start = i;
            bytes = 0;
        }
        bytes += body.len();
    }
    if start < bodies.len() {
        out.push(start..bodies.len());
    }
    out
}

/// SQS requests billed for a payload of `bytes` (one per started 64 KiB).
pub fn billed_requests(bytes: usize) -> usize {
    bytes.div_ceil(BILLING_CHUNK_BYTES).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use webmon_core::result::{LatencyStats, Phases, ProbeHealth, RESULT_VERSION};

    pub(crate) fn sample(i: usize) -> ProbeResult {
        ProbeResult {
            version: RESULT_VERSION,
            region: "eu-west-1".into(),
            check_id: format!("check-{i}"),
            url: format!("https://example.com/{i}"),
            scheduled_at_ms: 1_700_000_000_000 + i as i64,
            started_at_ms: 1_700_000_000_001 + i as i64,
            available: true,
            status_code: Some(200),
            error_class: None,
            error_message: None,
            requests: 5,
            latency: LatencyStats {
                avg_ms: 12.5,
                min_ms: 10.0,
                max_ms: 20.0,
                p50_ms: 11.0,
            },
            cold: Phases {
                dns_ms: 1.0,
                connect_ms: 2.0,
                tls_ms: 3.0,
                ttfb_ms: 4.0,
                transfer_ms: 0.5,
            },
            warm_ttfb_ms: Some(3.0),
            bytes: 1234,
            remote_ip: Some("192.0.2.1".into()),
            http_version: Some("HTTP/1.1".into()),
            tls_cert_days_left: Some(80),
            redirects: 0,
            attempts: 1,
            tags: Default::default(),
            probe: ProbeHealth::default(),
        }
    }

    #[test]
    fn round_trips_small_and_compressed() {
        let one = vec![sample(1)];
        let body = encode_one(&one).unwrap();
        assert!(body.starts_with('{'));
        assert_eq!(decode(&body).unwrap().results, one);
        let many: Vec<_> = (0..50).map(sample).collect();
        let body = encode_one(&many).unwrap();
        assert!(body.starts_with("H4sI"), "large envelopes are gzipped");
        assert_eq!(decode(&body).unwrap().results, many);
    }

    #[test]
    fn splits_to_fit_and_batches_within_limits() {
        let many: Vec<_> = (0..3000).map(sample).collect();
        let bodies = encode(&many, 16 * 1024).unwrap();
        assert!(bodies.len() > 1 && bodies.iter().all(|b| b.len() <= 16 * 1024));
        let total: usize = bodies
            .iter()
            .map(|b| decode(b).unwrap().results.len())
            .sum();
        assert_eq!(total, 3000);
        for range in batches(&bodies) {
            assert!(range.len() <= MAX_BATCH_ENTRIES);
            assert!(bodies[range].iter().map(String::len).sum::<usize>() <= MAX_BATCH_BYTES);
        }
    }

    #[test]
    fn a_decompression_bomb_is_refused_without_inflating_it() {
        // A valid envelope padded with 64 MiB of spaces: about 64 KB once gzipped.
        let mut gz = GzEncoder::new(Vec::new(), Compression::best());
        gz.write_all(br#"{"version":1,"results":["#).unwrap();
        let spaces = vec![b' '; 1024 * 1024];
        for _ in 0..64 {
            gz.write_all(&spaces).unwrap();
        }
        gz.write_all(b"]}").unwrap();
        let body = base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap());
        assert!(body.len() < MAX_MESSAGE_BYTES, "{}", body.len());
        let err = decode(&body).unwrap_err();
        assert!(err.contains("decompression bomb"), "{err}");
    }

    #[test]
    fn refuses_garbage_and_lists_bad_results() {
        assert!(decode("not json").is_err());
        assert!(decode(r#"{"version":2,"results":[]}"#).is_err());
        let d = decode(r#"{"version":1,"results":[{"nope":1}]}"#).unwrap();
        assert_eq!(d.invalid.len(), 1);
    }

    #[test]
    fn an_oversized_result_is_shrunk_and_its_neighbours_sent_whole() {
        // Text that does not compress: a xorshift stream over 64 letters.
        let noise = |n: usize, mut x: u64| -> String {
            (0..n)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    char::from(
                        b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"
                            [(x % 64) as usize],
                    )
                })
                .collect()
        };
        let mut big = sample(1);
        // A result whose text was never capped (an older probe): 600 KB that compress
        // to more than a message holds.
        big.error_message = Some(noise(300 * 1024, 7));
        big.tags.insert("k".into(), noise(300 * 1024, 11));
        let results = vec![sample(0), big, sample(2)];
        let bodies = encode(&results, MAX_MESSAGE_BYTES).unwrap();
        assert!(bodies.iter().all(|b| b.len() <= MAX_MESSAGE_BYTES));
        let decoded: Vec<ProbeResult> = bodies
            .iter()
            .flat_map(|b| decode(b).unwrap().results)
            .collect();
        assert_eq!(decoded.len(), 3, "every result is sent");
        assert_eq!(decoded[0], results[0]);
        assert_eq!(decoded[2], results[2]);
        assert_eq!(decoded[1].check_id, results[1].check_id);
        assert_eq!(decoded[1].scheduled_at_ms, results[1].scheduled_at_ms);
        assert!(
            decoded[1]
                .error_message
                .as_deref()
                .unwrap_or_default()
                .len()
                < 1024
        );
    }
}
