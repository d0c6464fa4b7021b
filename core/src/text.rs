//! Bounded text: what a message may echo of data that came from outside (a response
//! header, a URL, a body excerpt), cut on a character boundary.

/// Most bytes of response data (a header, a `Location`, a JSON value) a message echoes.
pub const MAX_ECHO_BYTES: usize = 120;

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary.
pub fn truncate_str(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// `text` as it may appear in a message: at most [`MAX_ECHO_BYTES`] bytes of it, with
/// `...(N bytes)` appended when it was cut.
pub fn excerpt(text: &str) -> String {
    if text.len() <= MAX_ECHO_BYTES {
        return text.to_string();
    }
    format!(
        "{}...({} bytes)",
        truncate_str(text, MAX_ECHO_BYTES),
        text.len()
    )
}
