//! `Finding`s and the rules that produced them in, a SARIF 2.1.0 log out, so that code hosts
//! show the findings inline.

use serde_json::{Value, json};

use crate::check::{Finding, Rule, Severity};

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "note",
    }
}

/// `prefix` is joined in front of file paths (the scanned root as the user gave it), so that
/// URIs are relative to where dockvar ran, normally the repository root.
pub fn render(findings: &[Finding], rules: &[Rule], prefix: &str) -> Value {
    let rule_index = |id: &str| rules.iter().position(|r| r.id == id);
    let results: Vec<Value> = findings
        .iter()
        .map(|f| {
            let mut result = json!({
                "ruleId": f.check_id,
                "level": level(f.severity),
                "message": { "text": format!("{}: {}. Fix: {}", f.subject, f.message, f.fix) },
                "properties": { "subject": f.subject, "fix": f.fix },
            });
            if let Some(i) = rule_index(f.check_id) {
                result["ruleIndex"] = json!(i);
            }
            match &f.location {
                // Findings about an image have no file: the image is a logical location.
                None => {
                    result["locations"] = json!([{ "logicalLocations": [{ "name": f.subject, "kind": "resource" }] }]);
                }
                Some(l) => {
                    let uri = if prefix.is_empty() || prefix == "." {
                        l.path.clone()
                    } else {
                        format!("{}/{}", prefix.trim_end_matches('/'), l.path)
                    };
                    let mut physical = json!({ "artifactLocation": { "uri": uri } });
                    if l.line > 0 {
                        physical["region"] = json!({ "startLine": l.line });
                    }
                    result["locations"] = json!([{ "physicalLocation": physical }]);
                }
            }
            result
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "dockvar",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/dockvar/dockvar",
                "rules": rules.iter().map(|r| json!({
                    "id": r.id,
                    "name": r.id.replace(['/', '-'], "_"),
                    "shortDescription": { "text": r.description },
                    "defaultConfiguration": { "level": level(r.severity) },
                })).collect::<Vec<_>>(),
            }},
            "results": results,
        }],
    })
}
