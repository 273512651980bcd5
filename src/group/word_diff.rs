//! Two instruction lines in, their word-level diff out: the words both share, and the words
//! only one has, so that two 2,000-character RUN lines show only what differs.

/// One word of a word diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Word {
    Same(String),
    Removed(String),
    Added(String),
}

/// Lines longer than this are shown as a word diff rather than as two whole lines.
pub const LONG_LINE: usize = 100;

/// Beyond this many words per side the quadratic diff is not attempted.
const MAX_WORDS: usize = 4000;

/// The word diff of `a` and `b` (split on blanks), or `None` when the lines are too long to
/// diff or share no word.
pub fn word_diff(a: &str, b: &str) -> Option<Vec<Word>> {
    let wa: Vec<&str> = a.split(' ').collect();
    let wb: Vec<&str> = b.split(' ').collect();
    if wa.len() > MAX_WORDS || wb.len() > MAX_WORDS {
        return None;
    }
    let (n, m) = (wa.len(), wb.len());
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if wa[i] == wb[j] { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    if lcs[0][0] == 0 {
        return None;
    }
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    while i < n && j < m {
        if wa[i] == wb[j] {
            out.push(Word::Same(wa[i].to_string()));
            i += 1;
            j += 1;
        } else if lcs[i + 1][j] >= lcs[i][j + 1] {
            out.push(Word::Removed(wa[i].to_string()));
            i += 1;
        } else {
            out.push(Word::Added(wb[j].to_string()));
            j += 1;
        }
    }
    out.extend(wa[i..].iter().map(|w| Word::Removed(w.to_string())));
    out.extend(wb[j..].iter().map(|w| Word::Added(w.to_string())));
    Some(out)
}

/// Runs of unchanged words longer than this are shortened to their ends and a count.
const CONTEXT: usize = 3;

/// `[-old-]{+new+}` marks (as `git diff --word-diff` writes them), long unchanged runs cut to
/// `… (N words) …`.
pub fn render(words: &[Word], removed: &dyn Fn(&str) -> String, added: &dyn Fn(&str) -> String) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut k = 0;
    while k < words.len() {
        match &words[k] {
            Word::Same(_) => {
                let start = k;
                while k < words.len() && matches!(words[k], Word::Same(_)) {
                    k += 1;
                }
                let run: Vec<&str> = words[start..k]
                    .iter()
                    .filter_map(|w| match w {
                        Word::Same(s) => Some(s.as_str()),
                        _ => None,
                    })
                    .collect();
                let keep_head = if start == 0 { 1 } else { CONTEXT };
                let keep_tail = if k == words.len() { 0 } else { CONTEXT };
                if run.len() > keep_head + keep_tail + 1 {
                    out.extend(run[..keep_head].iter().map(|s| s.to_string()));
                    out.push(format!("… ({} words) …", run.len() - keep_head - keep_tail));
                    out.extend(run[run.len() - keep_tail..].iter().map(|s| s.to_string()));
                } else {
                    out.extend(run.iter().map(|s| s.to_string()));
                }
            }
            Word::Removed(w) => {
                out.push(removed(&format!("[-{w}-]")));
                k += 1;
            }
            Word::Added(w) => {
                out.push(added(&format!("{{+{w}+}}")));
                k += 1;
            }
        }
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_only_the_differing_words() {
        let a = "RUN apt-get install -y a b c d e f g h python3.11 x";
        let b = "RUN apt-get install -y a b c d e f g h python3.12 x";
        let words = word_diff(a, b).unwrap();
        let text = render(&words, &|s| s.to_string(), &|s| s.to_string());
        assert_eq!(text, "RUN … (8 words) … f g h [-python3.11-] {+python3.12+} x");
        assert!(word_diff("a b", "c d").is_none());
    }
}
