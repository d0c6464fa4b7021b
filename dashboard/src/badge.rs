//! Shields-style SVG badges (`/badge/{check_id}/uptime.svg`, `.../latency.svg`), built
//! as text: every piece of dynamic text is XML-escaped before it is written.

use webmon_core::report::CheckRegionStats;

/// Grey: no data.
pub const GREY: &str = "#9f9f9f";
/// Blue: latency figures.
pub const BLUE: &str = "#007ec6";

/// Escapes `&`, `<`, `>`, `"` and `'` for XML text and attribute values.
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// The colour of an availability: green from 99.9 %, yellow-green from 99 %, yellow
/// from 95 %, red below.
pub fn availability_colour(pct: f64) -> &'static str {
    match pct {
        p if p >= 99.9 => "#4c1",
        p if p >= 99.0 => "#97ca00",
        p if p >= 95.0 => "#dfb317",
        _ => "#e05d44",
    }
}

/// An availability as the badge writes it: `100%`, `99.95%`.
pub fn percent_text(pct: f64) -> String {
    if pct >= 99.995 {
        "100%".into()
    } else {
        format!("{pct:.2}%")
    }
}

/// Approximate width of `text` in the badge's 11 px sans-serif font.
fn text_width(text: &str) -> usize {
    text.chars().count() * 7 + 10
}

/// A two-part badge: `label` on grey, `value` on `colour`.
pub fn svg(label: &str, value: &str, colour: &str) -> String {
    let (lw, vw) = (text_width(label), text_width(value));
    let total = lw + vw;
    let (label, value, colour) = (xml_escape(label), xml_escape(value), xml_escape(colour));
    let (lx, vx) = (lw * 5, lw * 10 + vw * 5);
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="20" role="img" aria-label="{label}: {value}"><title>{label}: {value}</title><linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient><clipPath id="r"><rect width="{total}" height="20" rx="3" fill="#fff"/></clipPath><g clip-path="url(#r)"><rect width="{lw}" height="20" fill="#555"/><rect x="{lw}" width="{vw}" height="20" fill="{colour}"/><rect width="{total}" height="20" fill="url(#s)"/></g><g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="110"><text x="{lx}" y="140" transform="scale(.1)">{label}</text><text x="{vx}" y="140" transform="scale(.1)">{value}</text></g></svg>"##
    )
}

/// The uptime badge of a check's statistics (every region together) over `since`.
pub fn uptime(stats: Option<&CheckRegionStats>, since: &str) -> String {
    let label = format!("uptime {since}");
    match stats {
        Some(s) if s.samples > 0 => svg(
            &label,
            &percent_text(s.availability_pct),
            availability_colour(s.availability_pct),
        ),
        _ => svg(&label, "no data", GREY),
    }
}

/// The latency badge: the median (nearest rank) of the answered executions' mean
/// latency, every region together, over `since`.
pub fn latency(stats: Option<&CheckRegionStats>, since: &str) -> String {
    let label = format!("p50 {since}");
    match stats.and_then(|s| s.latency_p50_ms) {
        Some(ms) if ms >= 10.0 => svg(&label, &format!("{ms:.0} ms"), BLUE),
        Some(ms) => svg(&label, &format!("{ms:.1} ms"), BLUE),
        None => svg(&label, "no data", GREY),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dynamic_text_is_escaped() {
        assert_eq!(
            xml_escape(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&apos;"
        );
        let badge = svg("<script>", "a&b", "\"red");
        assert!(!badge.contains("<script>"));
        assert!(badge.contains("&lt;script&gt;") && badge.contains("a&amp;b"));
        assert!(badge.contains("fill=\"&quot;red\""));
    }

    #[test]
    fn colours_by_threshold() {
        assert_eq!(availability_colour(100.0), "#4c1");
        assert_eq!(availability_colour(99.5), "#97ca00");
        assert_eq!(availability_colour(96.11), "#dfb317");
        assert_eq!(availability_colour(94.99), "#e05d44");
        assert_eq!(percent_text(99.999), "100%");
        assert_eq!(percent_text(96.1111), "96.11%");
    }
}
