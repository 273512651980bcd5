//! Variants in, sentences out: how the largest variants differ, in the notebook's words
//! (multi-stage or not, base images, timezone, dependency caching, pip, bash), from their
//! traits and families.

use super::Variant;

/// Sentences comparing the `top` largest variants.
/// A variant with its 1-based rank.
type Ranked<'a> = (usize, &'a Variant);

pub fn describe_differences(variants: &[Variant], top: usize) -> Vec<String> {
    let top: Vec<Ranked> = variants.iter().take(top).enumerate().map(|(i, v)| (i + 1, v)).collect();
    if top.len() < 2 {
        return Vec::new();
    }
    let name = |(n, v): &Ranked| format!("variant {n} ({})", v.id);
    let list = |items: &[&Ranked]| {
        let names: Vec<String> = items.iter().map(|x| name(x)).collect();
        match names.len() {
            0 => String::new(),
            1 => names[0].clone(),
            _ => format!("{} and {}", names[..names.len() - 1].join(", "), names[names.len() - 1]),
        }
    };
    let mut out = Vec::new();
    let bases: Vec<String> = {
        let mut b: Vec<String> = top.iter().filter_map(|(_, v)| v.traits.final_base.clone()).collect();
        b.sort();
        b.dedup();
        b
    };
    if bases.len() > 1 {
        out.push(format!("The base images differ: {}.", bases.join(", ")));
    }
    // What the variants that do it do, then what the others do; each as (one, several).
    let mut contrast = |does: (&str, &str), others: (&str, &str), test: &dyn Fn(&Variant) -> bool| {
        let (with, without): (Vec<&Ranked>, Vec<&Ranked>) = top.iter().partition(|(_, v)| test(v));
        if !with.is_empty() && !without.is_empty() {
            let verb = if with.len() == 1 { does.0 } else { does.1 };
            let other = if without.len() == 1 { others.0 } else { others.1 };
            out.push(format!("{} {verb}; {} {other}.", capitalize(&list(&with)), list(&without)));
        }
    };
    let not = ("does not", "do not");
    contrast(("uses a multi-stage build", "use multi-stage builds"), not, &|v| v.traits.stages > 1);
    contrast(("sets the timezone to UTC explicitly", "set the timezone to UTC explicitly"), not, &|v| {
        v.traits.sets_utc
    });
    contrast(
        (
            "copies its dependency manifests and installs them before the source, so the dependency layer is cached",
            "copy their dependency manifests and install them before the source, so the dependency layer is cached",
        ),
        ("copies the source first", "copy the source first"),
        &|v| v.traits.caches_dependencies,
    );
    contrast(
        ("upgrades pip at build time", "upgrade pip at build time"),
        ("keeps the base image's pip", "keep the base image's pip"),
        &|v| v.traits.upgrades_pip,
    );
    contrast(("installs bash", "install bash"), not, &|v| v.traits.installs_bash);
    contrast(("uses apk (Alpine)", "use apk (Alpine)"), ("uses apt (Debian)", "use apt (Debian)"), &|v| {
        v.traits.package_manager == "apk"
    });
    for (i, (n, v)) in top.iter().enumerate() {
        for (m, w) in top.iter().skip(i + 1) {
            if v.family == w.family {
                out.push(format!(
                    "Variants {n} and {m} have the same instructions in another order ({} and {} are one family).",
                    v.id, w.id
                ));
            }
        }
        if let Some(near) = &v.nearest
            && let Some((m, _)) = top.iter().find(|(_, w)| w.id == near.id)
            && *m > *n
            && v.family != top[m - 1].1.family
        {
            out.push(format!("Variant {n}'s nearest variant is variant {m}, {} instruction(s) away.", near.distance));
        }
    }
    out
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dockerfile::VariantTraits;
    use crate::group::Example;

    fn variant(id: &str, family: &str, traits: VariantTraits) -> Variant {
        Variant {
            id: id.into(),
            hash: id.into(),
            count: 1,
            connectors: vec![],
            example: Example { connector: "c".into(), dockerfile: None, image: None },
            traits,
            family: family.into(),
            template: String::new(),
            nearest: None,
            canonical: String::new(),
            lines: vec![],
        }
    }

    #[test]
    fn the_notebooks_observations() {
        let slim = VariantTraits {
            final_base: Some("python:3.9-slim".into()),
            stages: 1,
            package_manager: "apt".into(),
            ..Default::default()
        };
        let v1 = variant("aaaaaaa", "aaaaaaa", slim.clone());
        let v2 = variant(
            "bbbbbbb",
            "bbbbbbb",
            VariantTraits {
                final_base: Some("python:3.9.11-alpine3.15".into()),
                stages: 3,
                sets_utc: true,
                caches_dependencies: true,
                package_manager: "apk".into(),
                ..Default::default()
            },
        );
        let v3 = variant("ccccccc", "aaaaaaa", VariantTraits { caches_dependencies: true, ..slim });
        let text = describe_differences(&[v1, v2, v3], 3).join("\n");
        assert!(
            text.contains(
                "Variant 2 (bbbbbbb) uses a multi-stage build; variant 1 (aaaaaaa) and variant 3 (ccccccc) do not."
            ),
            "{text}"
        );
        assert!(text.contains("Variant 2 (bbbbbbb) and variant 3 (ccccccc) copy their dependency manifests"), "{text}");
        assert!(text.contains("Variants 1 and 3 have the same instructions in another order"), "{text}");
    }
}
