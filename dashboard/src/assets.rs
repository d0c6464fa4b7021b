//! Files embedded in the binary: the three page shells, our script and style sheet, and
//! uPlot (MIT, see `assets/uplot/LICENSE`), so the dashboard works offline.

/// The overview page shell; `app.js` fills it from `/api/overview`.
pub const INDEX_HTML: &str = include_str!("assets/index.html");
/// The per-check page shell; `app.js` fills it from `/api/checks/{id}/...`.
pub const CHECK_HTML: &str = include_str!("assets/check.html");
/// The public status page shell; `app.js` fills it from `/api/status`.
pub const STATUS_HTML: &str = include_str!("assets/status.html");

const APP_JS: &str = include_str!("assets/app.js");
const STYLE_CSS: &str = include_str!("assets/style.css");
const UPLOT_JS: &str = include_str!("assets/uplot/uPlot.iife.min.js");
const UPLOT_CSS: &str = include_str!("assets/uplot/uPlot.min.css");
const UPLOT_LICENSE: &str = include_str!("assets/uplot/LICENSE");

/// The content type and body of the asset served at `/assets/{name}`.
pub fn get(name: &str) -> Option<(&'static str, &'static str)> {
    Some(match name {
        "app.js" => ("text/javascript; charset=utf-8", APP_JS),
        "style.css" => ("text/css; charset=utf-8", STYLE_CSS),
        "uPlot.iife.min.js" => ("text/javascript; charset=utf-8", UPLOT_JS),
        "uPlot.min.css" => ("text/css; charset=utf-8", UPLOT_CSS),
        "uPlot.LICENSE.txt" => ("text/plain; charset=utf-8", UPLOT_LICENSE),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn pages_reference_only_embedded_assets() {
        for page in [super::INDEX_HTML, super::CHECK_HTML, super::STATUS_HTML] {
            for part in page.split("/assets/").skip(1) {
                let name = &part[..part.find('"').expect("quoted asset path")];
                assert!(super::get(name).is_some(), "missing asset {name}");
            }
            assert!(
                !page.contains("http://") && !page.contains("https://"),
                "pages must load nothing remote"
            );
        }
    }
}
