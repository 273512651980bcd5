//! Each image's ordered env in, the notebook's three tables out: variables every image sets
//! with one value, variables every image sets with different values, and variables only some
//! images set; plus which of the common ones come from the base image.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

/// The three tables, each sorted by variable name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EnvDiff {
    /// Image labels, in input order.
    pub images: Vec<String>,
    pub same: Vec<SameVar>,
    pub different: Vec<DifferentVar>,
    pub partial: Vec<PartialVar>,
}

/// Set on every image, with one value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SameVar {
    pub name: String,
    pub value: String,
    /// Present in the base image with the same value (false when no base was given).
    pub from_base: bool,
}

/// Set on every image, with values that differ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DifferentVar {
    pub name: String,
    /// Image label → value.
    pub values: BTreeMap<String, String>,
    /// The same, grouped by value: value → images (sorted by value).
    pub groups: Vec<(String, Vec<String>)>,
}

/// Set on only some images.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartialVar {
    pub name: String,
    /// The images that set it, in input order.
    pub images: Vec<String>,
    /// Image label → value, for those images.
    pub values: BTreeMap<String, String>,
}

/// The effective value of each variable (the last assignment wins, as in the runtime).
fn effective(env: &[(String, String)]) -> BTreeMap<&str, &str> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// Compares images' env. `base` is the env of the base image(s), when known: a common
/// variable is `from_base` when every base that sets it has the same value.
pub fn env_diff(images: &[(String, Vec<(String, String)>)], base: &[Vec<(String, String)>]) -> EnvDiff {
    let maps: Vec<BTreeMap<&str, &str>> = images.iter().map(|(_, env)| effective(env)).collect();
    let bases: Vec<BTreeMap<&str, &str>> = base.iter().map(|env| effective(env)).collect();
    let names: BTreeSet<&str> = maps.iter().flat_map(|m| m.keys().copied()).collect();
    let mut diff = EnvDiff { images: images.iter().map(|(l, _)| l.clone()).collect(), ..EnvDiff::default() };
    for name in names {
        let present: Vec<(usize, &str)> =
            maps.iter().enumerate().filter_map(|(i, m)| m.get(name).map(|v| (i, *v))).collect();
        let values: BTreeMap<String, String> =
            present.iter().map(|(i, v)| (images[*i].0.clone(), v.to_string())).collect();
        if present.len() < maps.len() {
            diff.partial.push(PartialVar {
                name: name.to_string(),
                images: present.iter().map(|(i, _)| images[*i].0.clone()).collect(),
                values,
            });
            continue;
        }
        let distinct: BTreeSet<&str> = present.iter().map(|(_, v)| *v).collect();
        if distinct.len() == 1 {
            let value = present[0].1;
            let setting: Vec<&str> = bases.iter().filter_map(|b| b.get(name).copied()).collect();
            diff.same.push(SameVar {
                name: name.to_string(),
                value: value.to_string(),
                from_base: !setting.is_empty() && setting.iter().all(|v| *v == value),
            });
        } else {
            let groups = distinct
                .iter()
                .map(|v| {
                    let members = present.iter().filter(|(_, pv)| pv == v).map(|(i, _)| images[*i].0.clone()).collect();
                    (v.to_string(), members)
                })
                .collect();
            diff.different.push(DifferentVar { name: name.to_string(), values, groups });
        }
    }
    diff
}

impl EnvDiff {
    /// Whether any variable differs or is set on only some images.
    pub fn has_differences(&self) -> bool {
        !self.different.is_empty() || !self.partial.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn the_notebook_tables() {
        let images = vec![
            (
                "a".to_string(),
                env(&[("LANG", "C.UTF-8"), ("PYTHON_VERSION", "3.9.18"), ("AIRBYTE_ENTRYPOINT", "python main.py")]),
            ),
            (
                "b".to_string(),
                env(&[
                    ("LANG", "C.UTF-8"),
                    ("PYTHON_VERSION", "3.9.11"),
                    ("AIRBYTE_ENTRYPOINT", "python main_dev.py"),
                    ("AIRBYTE_IMPL_MODULE", "source_zendesk_chat"),
                ]),
            ),
            (
                "c".to_string(),
                env(&[("LANG", "C.UTF-8"), ("PYTHON_VERSION", "3.9.18"), ("AIRBYTE_ENTRYPOINT", "python main.py")]),
            ),
        ];
        let d = env_diff(&images, &[env(&[("LANG", "C.UTF-8"), ("PYTHON_VERSION", "3.9.18")])]);
        assert_eq!(d.same, vec![SameVar { name: "LANG".into(), value: "C.UTF-8".into(), from_base: true }]);
        assert_eq!(
            d.different.iter().map(|v| v.name.as_str()).collect::<Vec<_>>(),
            vec!["AIRBYTE_ENTRYPOINT", "PYTHON_VERSION"]
        );
        assert_eq!(
            d.different[1].groups,
            vec![
                ("3.9.11".to_string(), vec!["b".to_string()]),
                ("3.9.18".to_string(), vec!["a".to_string(), "c".to_string()])
            ]
        );
        assert_eq!(d.partial[0].name, "AIRBYTE_IMPL_MODULE");
        assert_eq!(d.partial[0].images, vec!["b"]);
        assert!(d.has_differences());
    }

    #[test]
    fn last_assignment_wins_and_no_base_means_not_from_base() {
        let images = vec![("a".to_string(), env(&[("X", "1"), ("X", "2")])), ("b".to_string(), env(&[("X", "2")]))];
        let d = env_diff(&images, &[]);
        assert_eq!(d.same, vec![SameVar { name: "X".into(), value: "2".into(), from_base: false }]);
        assert!(!d.has_differences());
    }
}
