//! The recommendation in, `checks.yaml` out; and `checks.yaml` plus an image's facts in, the
//! checks that image fails out (`dockvar check-image`), all read statically.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::compare::EnvDiff;
use crate::inspect::ImageFacts;

/// What every connector image built on the base must satisfy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checks {
    /// Exact Python version (`python --version`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python_version: Option<String>,
    /// Exact pip version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pip_version: Option<String>,
    /// Timezone programs get; `UTC` accepts every UTC alias (`Etc/UTC`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// The user the image runs as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default)]
    pub env: EnvChecks,
    #[serde(default)]
    pub entrypoint: EntrypointChecks,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvChecks {
    /// Variables that must be set (any value).
    #[serde(default)]
    pub present: Vec<String>,
    /// Variables that must have exactly this value.
    #[serde(default)]
    pub equal: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntrypointChecks {
    /// `AIRBYTE_ENTRYPOINT` is set, equals the ENTRYPOINT and uses absolute paths.
    #[serde(default)]
    pub airbyte_entrypoint_matches: bool,
}

/// One failed check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckFailure {
    pub check: String,
    pub message: String,
}

/// Variables set by the runtime, never by an image.
const RUNTIME: &[&str] = &["HOSTNAME", "HOME", "TERM"];

impl Checks {
    /// Env every image sets with one value is asserted equal, except version variables the
    /// new base image changes (`PYTHON_*`, `GPG_KEY`), which are asserted present; variables
    /// every image sets with different values are asserted present.
    pub fn from_evidence(python: Option<&str>, pip: Option<&str>, lang: &str, env: &EnvDiff) -> Checks {
        let mut present: Vec<String> = Vec::new();
        let mut equal: BTreeMap<String, String> = BTreeMap::new();
        for v in &env.same {
            if RUNTIME.contains(&v.name.as_str()) {
                continue;
            }
            if v.name.starts_with("PYTHON_") || v.name == "GPG_KEY" || v.name == "AIRBYTE_ENTRYPOINT" {
                present.push(v.name.clone());
            } else {
                equal.insert(v.name.clone(), v.value.clone());
            }
        }
        for v in &env.different {
            if !RUNTIME.contains(&v.name.as_str()) {
                present.push(v.name.clone());
            }
        }
        equal.insert("LANG".into(), lang.to_string());
        equal.insert("TZ".into(), "UTC".into());
        present.retain(|n| !equal.contains_key(n));
        present.sort();
        present.dedup();
        Checks {
            python_version: python.map(str::to_string),
            pip_version: pip.map(str::to_string),
            timezone: Some("UTC".into()),
            user: Some("airbyte".into()),
            env: EnvChecks { present, equal },
            entrypoint: EntrypointChecks { airbyte_entrypoint_matches: true },
        }
    }

    pub fn to_yaml(&self) -> String {
        let body = serde_yaml::to_string(self).unwrap_or_default();
        format!("# What every connector image built on the base image must satisfy (dockvar check-image).\n{body}")
    }

    pub fn from_yaml(text: &str) -> Result<Checks, serde_yaml::Error> {
        serde_yaml::from_str(text)
    }
}

fn is_utc(zone: &str) -> bool {
    matches!(zone, "UTC" | "Etc/UTC" | "UTC0" | "Etc/UCT" | "UCT" | "Etc/Universal" | "Universal" | "Zulu" | "Etc/Zulu")
}

/// Checks one image's facts; an empty result means it passes.
pub fn check_facts(facts: &ImageFacts, checks: &Checks) -> Vec<CheckFailure> {
    let mut failures = Vec::new();
    let mut fail = |check: &str, message: String| failures.push(CheckFailure { check: check.into(), message });
    let have = |v: &Option<crate::inspect::read::SourcedValue>| v.as_ref().map(|s| s.version.clone());
    if let Some(want) = &checks.python_version {
        match have(&facts.python) {
            Some(v) if v == *want => {}
            Some(v) => fail("python_version", format!("Python is {v}, expected {want}")),
            None => fail("python_version", format!("no Python found, expected {want}")),
        }
    }
    if let Some(want) = &checks.pip_version {
        match have(&facts.pip) {
            Some(v) if v == *want => {}
            Some(v) => fail("pip_version", format!("pip is {v}, expected {want}")),
            None => fail("pip_version", format!("no pip found, expected {want}")),
        }
    }
    if let Some(want) = &checks.timezone {
        let zone = facts.timezone.as_ref().map(|t| t.version.clone()).unwrap_or_else(|| "UTC".into());
        let ok = if is_utc(want) { is_utc(&zone) } else { zone == *want };
        if !ok {
            fail("timezone", format!("timezone is {zone}, expected {want}"));
        }
    }
    if let Some(want) = &checks.user
        && (facts.user.name.as_deref() != Some(want.as_str()) || facts.user.root && want != "root")
    {
        let who = facts
            .user
            .name
            .clone()
            .unwrap_or_else(|| if facts.user.spec.is_empty() { "root".into() } else { facts.user.spec.clone() });
        fail("user", format!("runs as {who}, expected {want}"));
    }
    let env: BTreeMap<&str, &str> = facts.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    for name in &checks.env.present {
        if !env.contains_key(name.as_str()) {
            fail("env.present", format!("{name} is not set"));
        }
    }
    for (name, want) in &checks.env.equal {
        match env.get(name.as_str()) {
            Some(v) if v == want => {}
            Some(v) => fail("env.equal", format!("{name} is `{v}`, expected `{want}`")),
            None => fail("env.equal", format!("{name} is not set, expected `{want}`")),
        }
    }
    if checks.entrypoint.airbyte_entrypoint_matches {
        let value = env.get("AIRBYTE_ENTRYPOINT").copied();
        if let Some((message, _)) = crate::check::contract::entrypoint_problem(facts.entrypoint.as_deref(), value) {
            fail("entrypoint", message);
        }
    }
    failures
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::env::SameVar;
    use crate::inspect::read::{SourcedValue, UserFacts};

    fn passing() -> (ImageFacts, Checks) {
        let env = EnvDiff {
            images: vec!["a".into()],
            same: vec![
                SameVar { name: "LANG".into(), value: "C.UTF-8".into(), from_base: true },
                SameVar { name: "PYTHON_VERSION".into(), value: "3.9.18".into(), from_base: true },
            ],
            ..EnvDiff::default()
        };
        let checks = Checks::from_evidence(Some("3.9.18"), Some("23.0.1"), "C.UTF-8", &env);
        let facts = ImageFacts {
            python: Some(SourcedValue { version: "3.9.18".into(), source: "x".into() }),
            pip: Some(SourcedValue { version: "23.0.1".into(), source: "x".into() }),
            timezone: Some(SourcedValue { version: "Etc/UTC".into(), source: "x".into() }),
            user: UserFacts {
                spec: "airbyte".into(),
                name: Some("airbyte".into()),
                uid: Some(1000),
                root: false,
                ..UserFacts::default()
            },
            env: vec![
                ("LANG".into(), "C.UTF-8".into()),
                ("TZ".into(), "UTC".into()),
                ("PYTHON_VERSION".into(), "3.9.18".into()),
                ("AIRBYTE_ENTRYPOINT".into(), "python /airbyte/integration_code/main.py".into()),
            ],
            entrypoint: Some(vec!["python".into(), "/airbyte/integration_code/main.py".into()]),
            ..ImageFacts::default()
        };
        (facts, checks)
    }

    #[test]
    fn yaml_round_trips_and_a_conforming_image_passes() {
        let (facts, checks) = passing();
        let yaml = checks.to_yaml();
        assert_eq!(Checks::from_yaml(&yaml).unwrap(), checks);
        assert!(yaml.contains("python_version: 3.9.18"), "{yaml}");
        assert_eq!(check_facts(&facts, &checks), vec![]);
        assert!(Checks::from_yaml("python_version: 3.9\nunknown: 1\n").is_err());
    }

    #[test]
    fn each_check_fails_on_its_own_defect() {
        let (facts, checks) = passing();
        let failing = |edit: &dyn Fn(&mut ImageFacts)| {
            let mut f = facts.clone();
            edit(&mut f);
            check_facts(&f, &checks).into_iter().map(|c| c.check).collect::<Vec<_>>()
        };
        assert_eq!(failing(&|f| f.python.as_mut().unwrap().version = "3.9.11".into()), vec!["python_version"]);
        assert_eq!(failing(&|f| f.pip = None), vec!["pip_version"]);
        assert_eq!(failing(&|f| f.timezone.as_mut().unwrap().version = "Europe/Berlin".into()), vec!["timezone"]);
        assert_eq!(failing(&|f| f.user.name = Some("root".into())), vec!["user"]);
        assert_eq!(failing(&|f| f.env.retain(|(k, _)| k != "PYTHON_VERSION")), vec!["env.present"]);
        assert_eq!(failing(&|f| f.env[0].1 = "en_US.UTF-8".into()), vec!["env.equal"]);
        assert_eq!(failing(&|f| f.entrypoint = Some(vec!["python".into(), "main.py".into()])), vec!["entrypoint"]);
    }
}
