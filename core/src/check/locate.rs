//! Where an error is in the text of a checks file: the line and column of a check's
//! field, found by reading the text (block-style YAML, the form the examples use; a
//! flow-style list yields no position rather than a wrong one).

/// Line and column (both from 1) of `field` (a path such as `assertions.status[1]`)
/// in the check labelled `label` (its id, or `<item N>`), if found.
pub fn locate(text: &str, label: &str, field: &str) -> Option<(usize, usize)> {
    let doc: serde_yaml::Value = serde_yaml::from_str(text).ok()?;
    let items = doc.get("checks")?.as_sequence()?;
    let index = match label
        .strip_prefix("<item ")
        .and_then(|r| r.strip_suffix('>'))
    {
        Some(n) => n.parse::<usize>().ok()?.checked_sub(1)?,
        None => items
            .iter()
            .rposition(|i| i.get("id").and_then(|v| v.as_str()) == Some(label))?,
    };
    let lines: Vec<&str> = text.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.trim_end() == "checks:" || l.starts_with("checks:"))?;
    let indent = |l: &str| l.len() - l.trim_start().len();
    let is_item = |l: &str, at: usize| {
        let t = l.trim_start();
        indent(l) == at && (t.starts_with("- ") || t == "-")
    };
    let first = (start + 1..lines.len()).find(|&i| lines[i].trim_start().starts_with('-'))?;
    let list_indent = indent(lines[first]);
    let starts: Vec<usize> = (first..lines.len())
        .take_while(|&i| {
            let l = lines[i];
            l.trim().is_empty() || l.trim_start().starts_with('#') || indent(l) >= list_indent
        })
        .filter(|&i| is_item(lines[i], list_indent))
        .collect();
    let begin = *starts.get(index)?;
    let end = starts.get(index + 1).copied().unwrap_or_else(|| {
        (begin + 1..lines.len())
            .find(|&i| {
                let l = lines[i];
                !l.trim().is_empty()
                    && !l.trim_start().starts_with('#')
                    && indent(l) < list_indent + 1
                    && !is_item(l, list_indent)
            })
            .unwrap_or(lines.len())
    });
    let mut at = (begin, 0);
    let mut found = None;
    for part in field.split('.').filter(|p| !p.is_empty()) {
        let key = part.split('[').next().unwrap_or(part);
        found = find_key(&lines[..end], at, key);
        match found {
            Some((line, col)) => at = (line, col + key.len()),
            None => break,
        }
    }
    Some(match found {
        Some((line, col)) => (line + 1, col + 1),
        None => (begin + 1, indent(lines[begin]) + 3),
    })
}

/// The first `key:` at or after `(line, col)`, as a key (after a line start, a space,
/// `{`, `,` or `-`).
fn find_key(lines: &[&str], (line, col): (usize, usize), key: &str) -> Option<(usize, usize)> {
    for (i, text) in lines.iter().enumerate().skip(line) {
        let from = if i == line { col.min(text.len()) } else { 0 };
        let mut search = from;
        while let Some(pos) = text
            .get(search..)
            .and_then(|t| t.find(key))
            .map(|p| p + search)
        {
            let before = text[..pos].chars().last();
            let after = text[pos + key.len()..].trim_start();
            let boundary = before
                .is_none_or(|c| c.is_whitespace() || matches!(c, '{' | ',' | '-' | '"' | '\''));
            let after = after.trim_start_matches(['"', '\'']);
            if boundary && after.starts_with(':') {
                return Some((i, pos));
            }
            search = pos + key.len();
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::locate;

    #[test]
    fn finds_fields_of_block_items() {
        let text = "checks:\n  - id: a\n    url: https://a.test\n  - id: b\n    url: https://b.test\n    intervall: 1m\n    assertions:\n      status: [200, 9999]\n";
        assert_eq!(locate(text, "b", "intervall"), Some((6, 5)));
        assert_eq!(locate(text, "b", "assertions.status[1]"), Some((8, 7)));
        assert_eq!(locate(text, "a", "url"), Some((3, 5)));
        assert_eq!(locate(text, "<item 2>", "id"), Some((4, 5)));
        let flow = "checks:\n  - {id: c, url: 'x', timout: 3s}\n";
        assert_eq!(locate(flow, "c", "timout"), Some((2, 23)));
    }
}
