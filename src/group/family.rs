//! Variants in, the same variants with `family` and `nearest` set out; plus the
//! instruction-level diff of two variants.

use std::collections::HashMap;

use rayon::prelude::*;
use serde::Serialize;

use super::Variant;

/// The closest other variant by instruction-level edit distance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Nearest {
    pub id: String,
    /// Instructions to insert, delete or replace to turn one into the other.
    pub distance: usize,
    /// Only the differing instructions: `-` in this variant only, `+` in the nearest only.
    pub diff: Vec<DiffLine>,
}

/// One line of an instruction-level diff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "op", content = "instruction")]
pub enum DiffLine {
    #[serde(rename = " ")]
    Same(String),
    #[serde(rename = "-")]
    Removed(String),
    #[serde(rename = "+")]
    Added(String),
}

/// Beyond this many variants, nearest neighbours are searched among the largest ones only:
/// the search is quadratic and the big variants are the ones worth comparing against.
pub const NEAREST_CANDIDATES: usize = 2000;

/// Variants whose instructions are the same multiset in another order share a family,
/// named after its largest variant (variants arrive sorted by size).
pub fn assign_families(variants: &mut [Variant]) {
    let mut families: HashMap<Vec<String>, String> = HashMap::new();
    for v in variants.iter_mut() {
        if v.lines.is_empty() {
            v.family = v.id.clone();
            continue;
        }
        let mut key = v.lines.clone();
        key.sort();
        v.family = families.entry(key).or_insert_with(|| v.id.clone()).clone();
    }
}

/// Sets each variant's nearest other variant: one of the same template when there is one
/// (fewest differing codenames, then fewest other differing values, so that the next version
/// on the same OS comes before the same version on another OS), else the closest by
/// instruction-level edit distance.
pub fn assign_nearest(variants: &mut [Variant]) {
    let candidates = variants.len().min(NEAREST_CANDIDATES);
    let cuts: Vec<super::template::Cut> = variants.iter().map(|v| super::template::cut(&v.lines)).collect();
    let nearest: Vec<Option<Nearest>> = (0..variants.len())
        .into_par_iter()
        .map(|i| {
            let me = &variants[i];
            if me.lines.is_empty() {
                return None;
            }
            let sibling = (0..variants.len())
                .filter(|&j| j != i && !me.template.is_empty() && variants[j].template == me.template)
                .min_by_key(|&j| (super::template::slot_differences(&cuts[i], &cuts[j]), j));
            if let Some(j) = sibling {
                let distance = edit_distance(&me.lines, &variants[j].lines);
                let diff = diff_lines(&me.lines, &variants[j].lines)
                    .into_iter()
                    .filter(|l| !matches!(l, DiffLine::Same(_)))
                    .collect();
                return Some(Nearest { id: variants[j].id.clone(), distance, diff });
            }
            let mut best: Option<(usize, usize)> = None;
            for (j, other) in variants[..candidates].iter().enumerate() {
                if i == j || other.lines.is_empty() {
                    continue;
                }
                // A bound: the distance is at least the length difference.
                let floor = me.lines.len().abs_diff(other.lines.len());
                if best.is_some_and(|(_, d)| floor >= d) {
                    continue;
                }
                let d = edit_distance(&me.lines, &other.lines);
                if best.is_none_or(|(_, bd)| d < bd) {
                    best = Some((j, d));
                }
            }
            best.map(|(j, distance)| {
                let diff = diff_lines(&me.lines, &variants[j].lines)
                    .into_iter()
                    .filter(|l| !matches!(l, DiffLine::Same(_)))
                    .collect();
                Nearest { id: variants[j].id.clone(), distance, diff }
            })
        })
        .collect();
    for (v, n) in variants.iter_mut().zip(nearest) {
        v.nearest = n;
    }
}

/// Levenshtein distance over instructions.
pub fn edit_distance(a: &[String], b: &[String]) -> usize {
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, x) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, y) in b.iter().enumerate() {
            let substitute = prev[j] + usize::from(x != y);
            cur[j + 1] = substitute.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// A longest-common-subsequence diff, in the order of `a` with `b`'s insertions placed
/// where they belong.
pub fn diff_lines(a: &[String], b: &[String]) -> Vec<DiffLine> {
    let (n, m) = (a.len(), b.len());
    let mut lcs = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if a[i] == b[j] { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::with_capacity(n.max(m));
    while i < n && j < m {
        if a[i] == b[j] {
            out.push(DiffLine::Same(a[i].clone()));
            i += 1;
            j += 1;
        } else if lcs[i + 1][j] >= lcs[i][j + 1] {
            out.push(DiffLine::Removed(a[i].clone()));
            i += 1;
        } else {
            out.push(DiffLine::Added(b[j].clone()));
            j += 1;
        }
    }
    out.extend(a[i..].iter().cloned().map(DiffLine::Removed));
    out.extend(b[j..].iter().cloned().map(DiffLine::Added));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(s: &str) -> Vec<String> {
        s.split(',').map(str::to_string).collect()
    }

    #[test]
    fn edit_distance_counts_instructions() {
        assert_eq!(edit_distance(&lines("a,b,c"), &lines("a,b,c")), 0);
        assert_eq!(edit_distance(&lines("a,b,c"), &lines("a,c")), 1);
        assert_eq!(edit_distance(&lines("a,b,c"), &lines("a,x,c")), 1);
        assert_eq!(edit_distance(&lines("a,b,c"), &lines("c,b,a")), 2);
        assert_eq!(edit_distance(&[], &lines("a,b")), 2);
    }

    #[test]
    fn diff_shows_moves_as_remove_and_add() {
        let d = diff_lines(&lines("from,copy src,copy setup,run pip"), &lines("from,copy setup,run pip,copy src"));
        assert_eq!(
            d,
            vec![
                DiffLine::Same("from".into()),
                DiffLine::Removed("copy src".into()),
                DiffLine::Same("copy setup".into()),
                DiffLine::Same("run pip".into()),
                DiffLine::Added("copy src".into()),
            ]
        );
    }
}
