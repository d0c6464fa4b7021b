//! Text renderings of a report: an aligned table and RFC 4180 CSV, for the per check x
//! region rows and for the by-region view. JSON is the serialised types themselves.

use super::by_region::ByRegion;
use super::CheckRegionStats;

/// Columns of the per check x region table and CSV.
pub const HEADER: [&str; 17] = [
    "check",
    "region",
    "samples",
    "avail_pct",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "avg_ms",
    "cold_ttfb_ms",
    "warm_ttfb_ms",
    "dns_ms",
    "connect_ms",
    "tls_ms",
    "transfer_ms",
    "last_status",
    "last_available",
    "last_error",
];

fn num(v: Option<f64>) -> String {
    v.map_or(String::new(), |v| format!("{v:.2}"))
}

/// The cells of one row, in [`HEADER`] order; an absent figure is empty.
pub fn cells(s: &CheckRegionStats) -> [String; 17] {
    [
        s.check_id.clone(),
        s.region.clone(),
        s.samples.to_string(),
        format!("{:.2}", s.availability_pct),
        num(s.latency_p50_ms),
        num(s.latency_p95_ms),
        num(s.latency_p99_ms),
        num(s.latency_avg_ms),
        num(s.cold_ttfb_p50_ms),
        num(s.warm_ttfb_p50_ms),
        num(s.dns_p50_ms),
        num(s.connect_p50_ms),
        num(s.tls_p50_ms),
        num(s.transfer_p50_ms),
        s.last_status.map_or(String::new(), |c| c.to_string()),
        s.last_available.to_string(),
        s.last_error.clone().unwrap_or_default(),
    ]
}

fn csv_field(v: &str) -> String {
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v.to_string()
    }
}

fn csv_line<S: AsRef<str>>(cells: &[S]) -> String {
    let mut line = cells
        .iter()
        .map(|c| csv_field(c.as_ref()))
        .collect::<Vec<_>>()
        .join(",");
    line.push('\n');
    line
}

/// RFC 4180 CSV with a header row.
pub fn csv(stats: &[CheckRegionStats]) -> String {
    let mut out = csv_line(&HEADER);
    for s in stats {
        out += &csv_line(&cells(s));
    }
    out
}

/// Aligned columns separated by two spaces; empty cells shown as `-`, line breaks in a
/// cell (an error message) as spaces.
fn align(header: &[String], rows: &[Vec<String>]) -> String {
    let clean = |c: &String| {
        if c.is_empty() {
            "-".to_string()
        } else {
            c.replace(['\n', '\r'], " ")
        }
    };
    let rows: Vec<Vec<String>> = rows.iter().map(|r| r.iter().map(clean).collect()).collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cols: &[String]| {
        let parts: Vec<String> = cols
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        parts.join("  ").trim_end().to_string() + "\n"
    };
    let mut out = line(header);
    for row in &rows {
        out += &line(row);
    }
    out
}

/// The per check x region rows as an aligned table.
pub fn table(stats: &[CheckRegionStats]) -> String {
    let header: Vec<String> = HEADER.iter().map(|h| h.to_string()).collect();
    let rows: Vec<Vec<String>> = stats.iter().map(|s| cells(s).to_vec()).collect();
    align(&header, &rows)
}

/// Columns of the by-region CSV: one row per region, fastest first.
pub const BY_REGION_HEADER: [&str; 18] = [
    "check",
    "region",
    "mark",
    "p50_vs_fastest",
    "samples",
    "avail_pct",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "avg_ms",
    "cold_ttfb_ms",
    "warm_ttfb_ms",
    "dns_ms",
    "connect_ms",
    "tls_ms",
    "transfer_ms",
    "last_status",
    "last_error",
];

fn by_region_cells(view: &ByRegion) -> Vec<Vec<String>> {
    view.regions
        .iter()
        .map(|r| {
            let c = cells(&r.stats);
            let mut row = vec![
                c[0].clone(),
                c[1].clone(),
                r.mark.map_or(String::new(), |m| m.as_str().to_string()),
                r.p50_vs_fastest
                    .map_or(String::new(), |x| format!("{x:.2}")),
            ];
            row.extend(c[2..15].iter().cloned());
            row.push(c[16].clone());
            row
        })
        .collect()
}

/// The by-region view as CSV, one row per region, fastest first.
pub fn by_region_csv(view: &ByRegion) -> String {
    let mut out = csv_line(&BY_REGION_HEADER);
    for row in by_region_cells(view) {
        out += &csv_line(&row);
    }
    out
}

/// The by-region view as a table with one column per region (fastest first, marked
/// `(fastest)` and `(slowest)`) and one line per figure.
pub fn by_region_table(view: &ByRegion) -> String {
    let rows = by_region_cells(view);
    let mut header = vec![format!("check {}", view.check_id)];
    header.extend(view.regions.iter().map(|r| match r.mark {
        Some(m) => format!("{} ({})", r.stats.region, m.as_str()),
        None => r.stats.region.clone(),
    }));
    let lines: Vec<Vec<String>> = (3..BY_REGION_HEADER.len())
        .map(|i| {
            let mut line = vec![BY_REGION_HEADER[i].to_string()];
            line.extend(rows.iter().map(|r| r[i].clone()));
            line
        })
        .collect();
    let mut out = align(&header, &lines);
    out.push_str(
        "regions ranked by median latency (p50, ties by p95); p50_vs_fastest = p50 / fastest p50\n",
    );
    out
}
